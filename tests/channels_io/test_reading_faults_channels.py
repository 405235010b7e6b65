"""The two reading faults walked on every channel from the outside: the widget's JSON API, signed Twilio
SMS and voice webhooks (TwiML followed), and inbound mail by `receive_email` and Postmark's webhook.

An invoice or order code is never taken for a ticket ID; the customer's own ticket ID still is. After
an offer, a refusal declines, a plain yes opens exactly one ticket, and anything else lets the offer lapse.
"""

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core import mail

from assistant import wording
from channels_io.voice import adapter as voice
from loophole.models import PhoneNumber
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER, twilio  # noqa: F401 - fixture
from tests.factories import UserFactory, make_ticket
from tests.injection.channels import CHANNELS, Rendered, Sender
from tickets.models import Author, Conversation, Message, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio")]

# (driver, how mail comes in): email arrives both ways.
ROUTES = {
    "chat": ("chat", ""),
    "sms": ("sms", ""),
    "voice": ("voice", ""),
    "email-command": ("email", "receive_email"),
    "email-webhook": ("email", "webhook"),
}
OFFER_FIRST = "I was charged twice for my annual plan and I want a refund"
CANT_FIND = "can't find that ticket"


@dataclass
class Talk:
    """One customer conversation on one channel, driven as its callers drive it."""

    slug: str
    driver: object
    rendered: Rendered
    customer: object

    def send(self, text: str, subject: str = "") -> Message:
        """Send `text`; the assistant's stored reply to it."""
        before = self.replies().count()
        self.driver.send(text, subject)
        replies = self.replies()
        assert replies.count() == before + 1, f"no reply stored on {self.slug}: {self.rendered.texts}"
        return replies.latest("pk")

    @property
    def conversation(self) -> Conversation:
        return Conversation.objects.filter(channel=self.slug, customer=self.customer).latest("pk")

    def replies(self):
        conversations = Conversation.objects.filter(channel=self.slug, customer=self.customer)
        return Message.objects.filter(conversation__in=conversations, author=Author.ASSISTANT)

    def seen(self) -> list[str]:
        """What reached the customer, oldest first: the chat's JSON, texts, speech, or mail."""
        if self.slug == "email":
            return [m.body for m in mail.outbox]
        return self.rendered.texts

    def heard(self, reference: str) -> bool:
        """Whether the customer read (or, on a call, heard spelled) `reference`."""
        said = voice.spell(reference) if self.slug == "voice" else reference
        return any(said in text for text in self.seen())


@pytest.fixture
def customer():
    add_articles()
    user = UserFactory(email="dana@example.com", name="Dana Ortiz")
    PhoneNumber.objects.create(user=user, number=CUSTOMER_NUMBER)
    return user


@pytest.fixture(params=list(ROUTES))
def talk(request, customer, django_capture_on_commit_callbacks) -> Talk:
    slug, path = ROUTES[request.param]
    rendered = Rendered()
    sender = Sender(email=customer.email, phone=CUSTOMER_NUMBER, name=customer.name, user=customer)
    driver = CHANNELS[slug](sender, django_capture_on_commit_callbacks, rendered, path=path,
                            secret=settings.ANYMAIL["WEBHOOK_SECRET"])  # fmt: skip
    return Talk(slug, driver, rendered, customer)


# --- (a) 8-character codes that are not ticket IDs --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "invoice INV-3F2A9B7C, please refund one of the charges",
        "I was charged twice for order 7K3MQX9P, I want my money back",
        "My invoice 3F2A 9B7C shows the wrong amount, I was overcharged",
        "I was charged twice for order number seven K three M Q X nine P",
    ],
    ids=["invoice-refund", "order-charged-twice", "invoice-spaced-overcharged", "order-spoken"],
)
def test_a_problem_with_an_invoice_or_order_code_gets_help_not_a_ticket_look_up(talk, text):
    reply = talk.send(text)
    assert reply.kind in {"offered", "answered"}, reply.text
    assert wording.NOT_FOUND not in reply.text
    assert not any(CANT_FIND in t for t in talk.seen())
    assert not Ticket.objects.exists()


def test_beside_an_invoice_code_the_customers_own_ticket_id_is_looked_up(talk, customer):
    own = make_ticket(customer, title="Refund for duplicate charge")
    reply = talk.send(f"invoice INV-3F2A9B7C was charged twice, what's the status of ticket {own.reference}?")
    assert reply.kind == "status"
    assert own.reference in reply.text and wording.NOT_FOUND not in reply.text
    assert talk.heard(own.reference)


def _forms(reference: str, slug: str) -> dict[str, tuple[str, str]]:
    body = reference.removeprefix("LH-").replace("-", "")
    spoken = " ".join(
        "zero one two three four five six seven eight nine".split()[int(c)] if c.isdigit() else c
        for c in reference.replace("-", "")
    )
    return {
        "canonical": (f"what's the status of {reference}?", ""),
        "lh-loose": (f"any news on {reference.lower().replace('-', ' ')}", ""),
        "ticket-word": (f"what's happening with ticket {body}?", ""),
        "bare": (body, "Ticket status" if slug == "email" else ""),
        "spoken": (f"what's the status of ticket {spoken}", ""),
        "id-then-question": ("any update?", body),  # the ID first: an email's subject, a text's first line
    }


def ticket_with(customer, reference: str) -> Ticket:
    """The customer's ticket under a chosen ID (IDs are random; which kind of ID it is matters here)."""
    ticket = make_ticket(customer, title="Refund for duplicate charge")
    Ticket.objects.filter(pk=ticket.pk).update(reference=reference)
    ticket.refresh_from_db()
    return ticket


@pytest.mark.parametrize("form", ["canonical", "lh-loose", "ticket-word", "bare", "spoken", "id-then-question"])
def test_the_customers_own_ticket_id_still_gets_its_status(talk, customer, form):
    own = ticket_with(customer, "LH-7K3M-QX9P")
    text, subject = _forms(own.reference, talk.slug)[form]
    reply = talk.send(text, subject)
    assert reply.kind == "status", f"{text!r} (subject {subject!r}) got: {reply.text}"
    assert own.reference in reply.text and "Submitted" in reply.text
    assert talk.heard(own.reference)


def test_an_id_of_only_letters_is_still_read_beside_the_word_ticket(talk, customer):
    """About one ID in ten has no digit: it is as much the customer's ID as any other."""
    own = ticket_with(customer, "LH-TPYM-BGJT")
    text, subject = _forms(own.reference, talk.slug)["ticket-word"]
    reply = talk.send(text, subject)
    assert reply.kind == "status", f"{text!r} got: {reply.text}"
    assert own.reference in reply.text


def test_someone_elses_ticket_id_gets_the_not_found_answer_and_nothing_of_theirs(talk):
    theirs = make_ticket(UserFactory(), title="Someone else's payroll secret")
    reply = talk.send(f"what's the status of ticket {theirs.reference}?")
    assert reply.kind == "status" and reply.text == wording.NOT_FOUND
    assert not any("payroll" in t for t in talk.seen())


# --- (b) the answer to a ticket offer ----------------------------------------------------------------


def _offered(talk: Talk) -> None:
    reply = talk.send(OFFER_FIRST)
    assert reply.kind == "offered", reply.text
    assert talk.conversation.state == "ticket_offered"


@pytest.mark.parametrize(
    "refusal",
    ["No, thanks. Don't open a ticket.", "nope, not now", "No need, I figured it out", "nah I'm good"],
)
def test_a_natural_refusal_declines_creates_nothing_and_asks_nothing_again(talk, refusal):
    _offered(talk)
    reply = talk.send(refusal)
    assert reply.kind == "declined" and reply.text == wording.DECLINED
    assert "yes or no" not in talk.seen()[-1].lower()
    conversation = talk.conversation
    assert (conversation.state, conversation.offer) == ("assistant", None)
    assert not Ticket.objects.exists()
    talk.send("yes")  # the offer is gone: a late yes opens nothing
    assert not Ticket.objects.exists()


def test_a_refusal_with_a_new_question_declines_and_answers_the_question(talk):
    _offered(talk)
    reply = talk.send("No thanks, but how do I reset my password?")
    assert reply.kind == "answered"
    assert reply.text.startswith(wording.DECLINED_BRIEF) and "Forgot password" in reply.text
    assert talk.conversation.state == "assistant"
    assert not Ticket.objects.exists()


def test_a_plain_yes_creates_exactly_one_ticket_even_when_repeated(talk, customer):
    _offered(talk)
    reply = talk.send("yes please")
    ticket = Ticket.objects.get()
    assert reply.kind == "created" and ticket.reference in reply.text
    assert (ticket.customer, ticket.channel) == (customer, talk.slug)
    assert talk.heard(ticket.reference)
    talk.driver.send("yes")  # said again: chat hands off (no reply), the others answer as usual
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    "question",
    ["how do I reset my password?", "How can I reset my password"],
    ids=["question-mark", "no-question-mark"],
)
def test_a_how_to_question_after_an_offer_is_answered_and_the_offer_lapses(talk, question):
    _offered(talk)
    reply = talk.send(question)
    assert reply.kind == "answered" and "Forgot password" in reply.text
    assert "yes or no" not in reply.text.lower()
    assert (talk.conversation.state, talk.conversation.offer) == ("assistant", None)
    assert not Ticket.objects.exists()
    late = talk.send("yes")
    assert late.kind not in {"created", "asked_again"}
    assert not Ticket.objects.exists()
