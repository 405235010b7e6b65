"""The deterministic readers the gate and the local assistant rely on."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant import details, grievances, language, wording
from assistant.charges import price_mismatch
from assistant.details import facts
from assistant.language import (
    Answer,
    confirmation,
    didnt_help,
    needs_person,
    smalltalk,
)
from assistant.references import find_references
from assistant.status import is_status_request


@given(st.text(max_size=200))
def test_only_short_plain_replies_can_ever_confirm(text):
    if confirmation(text) == Answer.YES:
        assert len(text.strip()) <= 120
        assert not any(ch in text for ch in "{}<>:=@")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's the status of LH-7K3M-QX9P?", ["LH-7K3M-QX9P"]),
        ("lh 7k3m qx9p please", ["LH-7K3M-QX9P"]),
        ("L H seven K three M Q X nine P", ["LH-7K3M-QX9P"]),
        ("lima hotel seven kilo three mike quebec x-ray nine papa", ["LH-7K3M-QX9P"]),
        ("L H double seven K three M Q X nine", ["LH-77K3-MQX9"]),
        ("my ticket is 7k3mqx9p", ["LH-7K3M-QX9P"]),
        ("I upgraded yesterday and the password changed", []),
        ("invoice INV-12345678", []),
        ("Has anyone answered my ticket?", []),
        ("was my case answered", []),
        ("ticket HEARBACK please", ["LH-HEAR-BACK"]),
    ],
)
def test_references_are_found_typed_loosely_or_spoken(text, expected):
    assert find_references(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "still waiting to hear back on the case I raised Monday",
        "any chance of hearing back about my request?",
        "update on my lost property report pls",
        "escalated my complaint to a team leader 6 days ago, any word?",
        "whats happening with the refund request i sent on monday",
        "Could you check on my support request from last week for me please?",
        "whats the latest on the ticket u opened for me yesterday",
        "is someone still dealing with my access case or did it get closed",
        "i emailed support about the name on my certificate 3 days ago, is there an update",
        "how long till my ticket gets answered, sent it thursday",
        "I'd like to check on the progress of my privacy request from last month please",
        "has my ticket been given to someone yet or is it still in the queue",
        "i opened a request about the double charge, is somebody actually working on it",
        "has my request been sorted? it says in progress since friday",
        "I raised a ticket last week about my deposit, has it moved at all?",
        "did my message about the boiler from this morning get through to someone",
        "was my account deletion request done? sent it on the 3rd",
        "following up on my email from the 2nd re the double charge",
        "my request says waiting for you but i already replied to it",
        "can u tell me where my support request is at, the one about the wrong seats",
    ],
)
def test_questions_about_an_answer_to_a_ticket_are_status_requests(text):
    assert is_status_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "I want to update my email address",
        "my report won't export",
        "any update on my order?",
        "is anyone working on the outage?",
        "I am still in the queue for the phone line",
        "how do I report a problem?",
        "the report you sent is wrong",
        "has my claim been processed yet?",
        "was my order sorted before the weekend?",
        "my email says waiting for verification",
    ],
)
def test_messages_about_other_things_than_a_ticket_are_not_status_requests(text):
    assert not is_status_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "my tickets for the concert have disappeared from my account",
        "app crashes every time i open my tickets",
        "please swap my tickets for the 12th to the 13th",
    ],
)
def test_my_tickets_are_the_products_where_the_business_sells_tickets(text):
    assert is_status_request(text)  # tickets are support tickets unless the help centre says otherwise
    assert not is_status_request(text, frozenset({"ticket"}))
    assert is_status_request(text, frozenset({"case"}))


@pytest.mark.parametrize(
    "text",
    ["any update on my ticket?", "what's the status of my support tickets", "has anyone replied to my case?"],
)
def test_a_question_about_support_tickets_is_one_wherever_tickets_are_sold(text):
    assert is_status_request(text, frozenset({"ticket", "case"}))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I want a refund for the annual plan", "refund"),
        ("I was charged twice this month", "billing"),
        ("I'm locked out of my account", "access"),
        ("I can't log in, it says my account is suspended", "access"),
        ("all my projects disappeared overnight", "data_loss"),
        ("please delete all my personal data under GDPR", "privacy"),
        ("can I talk to a human?", "human"),
        ("I need a person to fix the seat count on that invoice", "human"),
        ("scanning is stuck on every receipt. need a human to look", "human"),
        ("we'd like an actual person to check the invoice", "human"),
        ("get me an agent", "human"),
        ("dont want a bot. human pls", "human"),
        ("i don't want to talk to a bot", "human"),
        ("no bots please, a person", "human"),
        ("agent plz", "human"),
        ("can someone ring me", "human"),
        ("Could someone call me to explain the bill?", "human"),
        ("Is there someone I could speak to on the phone about my tenancy?", "human"),
        ("is there anyone we can talk to", "human"),
        ("get me a manager. now.", "human"),
        ("i need a supervisor", "human"),
        ("is there any actual person i can speak to instead of this", "human"),
        ("is there a human i can speak to about my trip on friday", "human"),
        ("do I need a manager role to approve expenses?", None),
        ("we want a manager account for our ops lead", None),
        ("could someone add my manager as a second admin", None),
        ("will someone ring me when the parcel arrives?", None),
        ("does someone call me before the engineer arrives?", None),
        ("is there someone at the depot on sundays?", None),
        ("do you have a phone number I can call?", None),
        ("the bot told me to restart it", None),
        ("do I need a person at home for the engineer?", None),
        ("will I need an agent to set it up?", None),
        ("we need a person present to sign for the delivery", None),
        ("Can you open a ticket for me?", "ticket_request"),
        ("you renewed us for 12 months but i asked for 6 in the renewal screen", "company_error"),
        ("your contractor broke my tv bracket fixing the wall", "company_error"),
        ("you paid my settlement into my old bank account which is closed", "company_error"),
        ("you sent me the wrong size, how do i return it", None),
        ("you said someone would get back to me", None),
        ("you have been very helpful", None),
        ("i want to make a complaint", "ticket_request"),
        ("id like to make a complaint about the security staff", "ticket_request"),
        ("how do i make a formal complaint, who does it go to", None),
        ("get me someone who can actually help", "human"),
        ("can u lift the reservation ban, it was the app freezing", "ticket_request"),
        ("Could you possibly extend my notice by two weeks?", "ticket_request"),
        ("pls move my check out from thurs to the following monday", "ticket_request"),
        ("could you put my rent date back to the 1st please", "ticket_request"),
        ("Hi, would you be able to hold my reserved car past the extension?", "ticket_request"),
        ("can someone transfer my car policy into my wife's name", "ticket_request"),
        ("can I transfer my policy to my wife online?", None),
        ("the export keeps crashing", "persistent"),
        ("I already reinstalled the app and it still crashes", "persistent"),
        ("the export crashed", "bug"),
        ("pressed sync like 20 times, the payments are still not there", "persistent"),
        ("router keeps dropping out. swapped the cable, same thing", "persistent"),
        ("the light is still orange, restarted it twice", "persistent"),
        ("tapped unlock 3 times, nothing, bluetooth is on. anything else i can try", None),
        ("failed the graded quiz 3 times and now it says wait. how long", None),
        ("you still took £19.99 after I cancelled", "company_error"),
        ("I was still charged £19.99 after I cancelled", "billing"),
        ("I've been charged $45 for a plan I never picked", "billing"),
        ("how much will I be charged if I cancel early?", None),
        ("what times are you open?", None),
        ("how do refunds work?", None),
        ("what is your refund policy", None),
        ("how do I open a support ticket?", None),
        ("how do I reset my password", None),
    ],
)
def test_problems_that_need_a_person_are_recognised_and_questions_are_not(text, reason):
    assert needs_person(text) == reason


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("base currency got set to EUR by mistake. can you switch it to USD", True),
        ("Could someone please look into my last invoice?", True),
        ("moving abroad in August, please arrange the exit", True),
        ("two invoices have the same number. Can this be fixed?", True),
        ("I need someone to check the meter reading", True),
        ("can u pause my annual plan for 3 months", True),
        ("student verification keeps failing, can someone check it manually", True),
        ("£150 cleaning fee for a bit of sand?? can this be reduced at all", True),
        ("can I pause my plan in the app?", False),
        ("how do I switch my plan to annual?", False),
        ("can I change my delivery address?", False),
        ("what does the late fee cost", False),
        ("", False),
    ],
)
def test_requests_for_staff_to_act_are_told_from_how_to_questions(text, asks):
    assert language.asks_staff_to_act(text) is asks


@pytest.mark.parametrize(
    ("text", "polite"),
    [
        ("need the name on my contract changed please", True),
        ("Pause my plan for two months pls, I'm in hospital", True),
        ("please tell me how to change my plan", False),
        ("what are your opening hours please", False),
        ("could you check my ticket please", False),  # a status question
        ("can you change my plan please?", False),  # a question: the classifier weighs it
        ("need the name on my contract changed", False),
        ("", False),
    ],
)
def test_a_request_made_with_please_that_asks_to_know_nothing_is_told_apart(text, polite):
    assert language.polite_request(text) is polite


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("my card", True), ("the app", True), ("refund", True), ("card stuck in the machine", False),
     ("forgot my password", False), ("connect slack", False), ("2fa setup", False)],
)  # fmt: skip
def test_a_topic_named_in_a_word_or_two_is_a_fragment(text, fragment):
    assert language.is_fragment(text) is fragment


@pytest.mark.parametrize("text", ["that didn't help", "still doesn't work", "I already tried that", "not helpful"])
def test_that_didnt_help_follow_ups(text):
    assert didnt_help(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Thanks!", "thanks"),
        ("bye", "bye"),
        ("hey how are you", "how_are_you"),
        ("hello anyone there", "greeting"),
        ("is anybody there?", "greeting"),
        ("nice one \U0001f44d", "thanks"),
        ("brilliant", "thanks"),
        ("is this an ai or a person typing", "who"),
        ("is this a bot?", "who"),
        ("lol", "ok"),
        ("ok", "ok"),
        ("you're useless lol", "fed_up"),
        ("this is pointless", "fed_up"),
    ],
)
def test_small_talk(text, kind):
    assert smalltalk(text) == kind


@pytest.mark.parametrize(
    "text", ["is it a bot fault that my card failed", "is this a real offer?", "anyone there to fix my broken app?"]
)
def test_a_message_about_something_else_is_not_small_talk(text):
    assert smalltalk(text) is None


def test_small_talk_with_a_question_is_not_small_talk():
    assert smalltalk("hi, how do I export my data?") is None


@pytest.mark.parametrize(
    "text",
    ["it works now", "no it's ok, just tried again and it works now", "all sorted now thanks", "I fixed it",
     "ok it's working again", "my card works again, cheers", "nvm figured it out", "nvm sorted it"],
)  # fmt: skip
def test_a_problem_said_to_be_solved_now_is_small_talk_not_a_problem_tried_again(text):
    assert smalltalk(text) == "resolved"
    assert wording.SMALLTALK["resolved"]


@pytest.mark.parametrize(
    "text",
    ["works now but the screen is blank", "it is not working now", "it stopped working again", "is it fixed now?",
     "has it been sorted now", "it worked fine now it crashes", "it works now, how do I export my data",
     "it works again " + "and again " * 20, "i havent figured it out", "not sorted it", "can you get it sorted"],
)  # fmt: skip
def test_a_message_that_is_not_plainly_solved_is_not_read_as_solved(text):
    assert smalltalk(text) != "resolved"


@pytest.mark.parametrize(
    ("text", "mismatch"),
    [
        ("why did you take £58 when my monthly is £41.20??", True),
        ("charged 41p/min on a polo when the app said 32p", True),
        ("i picked roadside breakdown for £29 but youve charged me £79", True),
        ("tds has my deposit as £1,100 but i paid £1,380", True),
        ("my debit card has £1000 daily limit and rent is £1350 so it keeps failing", False),
        ("a pending £1.00 and the normal £10.99. have i paid twice", False),
        ("is Plus £10 a month? and Max?", False),
        ("£5 " + "but " * 5000, False),
    ],
)
def test_two_prices_set_against_each_other_are_a_charge_said_to_be_wrong(text, mismatch):
    assert price_mismatch(text) is mismatch


@pytest.mark.parametrize(
    ("text", "disputed"),
    [
        ("There is a payment on my card that I do not recognize.", True),
        ("Why is there a payment I never made?", True),
        ("Why was I double charged?", True),
        ("a payment is showing twice, why is that", True),
        ("Someone withdrew money from my account, and it wasn't me.", True),
        ("I think someone has been using my card", True),
        ("I tried to withdraw 50 pounds but it only gave me 30", True),
        ("the ATM gave me the wrong amount", True),
        ("what should I do about an unknown direct debit?", True),
        ("is my case about the double charge closed? didnt get any email", False),  # a status question
        ("i opened a request about the double charge, is somebody working on it", False),
        ("are duplicate charges refunded in full?", False),  # how refunds work
        ("My card was stolen. What do I need to do?", False),  # a lost card: the customer freezes it
        ("how do I see my card payments?", False),
        ("what is the fee for ATM withdrawals", False),
        ("payment " * 3000, False),
    ],
)
def test_a_payment_said_not_to_be_the_customer_s_own_is_disputed_however_it_is_asked(text, disputed):
    assert (grievances.grievance(text) == "disputed") is disputed


@pytest.mark.parametrize(
    ("text", "overdue"),
    [
        ("my referral credit never came, my mate did his first trip last tuesday", True),
        ("its wednesday and still no credit for me", True),
        ("sold my seats on the 3rd and still no payout", True),
        ("returned it 3 weeks ago and the refund still hasn't arrived", True),
        ("no sign of my compensation", True),
        ("how long does a refund take to arrive?", False),  # how refunds work
        ("my refund ticket still hasn't been answered", False),  # a status question
        ("can I get a refund?", False),
        ("credit " * 3000, False),
    ],
)
def test_money_or_credit_owed_that_has_not_come_is_overdue(text, overdue):
    assert (grievances.grievance(text) == "overdue") is overdue


@pytest.mark.parametrize(
    ("text", "waiting"),
    [
        ("submitted my home claim 3 weeks ago and no one has contacted me at all", True),
        ("was promised a call back yesterday between 2 and 4 and nobody called", True),
        ("I applied for financial aid 4 weeks ago and I haven't heard anything back at all", True),
        ("asked for grab rails in march, nothing since", True),
        ("Did my complaint go through? haven't heard a thing back", False),  # a status question
        ("just checking on the query i emailed tuesday, havent heard anything back yet", False),
        ("how long until someone gets back to me?", False),
        ("nobody " * 3000, False),
    ],
)
def test_a_promise_to_come_back_that_was_not_kept_leaves_the_customer_waiting(text, waiting):
    assert (grievances.grievance(text) == "no_reply") is waiting


@pytest.mark.parametrize(
    ("text", "knowing"),
    [
        ("sent 2 tickets to my brother on tuesday and he still hasnt accepted them, what happens if he doesnt", True),
        ("checked out last wednesday, still no word on my deposit. should i have heard something by now", True),
        ("My old smart plug only works on 2.4GHz. Any way round that?", True),
        ("Could you re-issue our January invoices with the company name on them please? What do you need", False),
        ("would it be possible to get a few extra trial days, how does that work", False),
        ("my card was charged twice", False),
        ("There's a $89 charge on our card and it isn't in our billing history. What is this?", False),
        ("Driver asked me for $5 cash extra at the door. Is that allowed??", False),
        ("", False),
    ],
)
def test_a_report_that_asks_to_know_something_and_nobody_to_act_is_told_apart(text, knowing):
    assert language.wants_to_know(text) is knowing


def test_facts_are_pulled_from_the_customers_words():
    found = facts("I was charged $120 twice on 3 November for invoice INV-2231 on my iPhone 15 in Safari")
    assert found["amounts"] == ["$120"]
    assert found["dates"] == ["3 November"]
    assert found["references"] == ["invoice INV-2231"]
    assert found["devices"] == ["iPhone 15", "Safari"]


def _best_of_three(fn, text: str) -> float:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        fn(text)
        timings.append(time.perf_counter() - started)
    return min(timings)


@pytest.mark.parametrize(
    "hostile",
    [
        lambda n: "invoice " + "1" * n + "_",
        lambda n: "A-" + "1" * n + "_",
        lambda n: "$" + "1," * (n // 2) + "_",
        lambda n: "withdraw" + "w" * n + " payment" * (n // 8),
    ],
    ids=["reference-run", "code-run", "amount-run", "withdrawal-run"],
)
def test_facts_and_codes_cost_grows_linearly_with_hostile_input(hostile):
    """Four times the input costs about four times the time (a quadratic pattern costs sixteen)."""

    def read(text: str) -> None:
        details.facts(text)
        details.codes(text)
        language.needs_person(text)
        grievances.grievance(text)

    small, large = _best_of_three(read, hostile(1000)), _best_of_three(read, hostile(4000))
    assert large < 8 * small + 0.005, (small, large)
