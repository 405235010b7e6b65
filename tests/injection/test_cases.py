"""Every adversarial case of cases.toml on every channel and both assistant backends.

The local engine answers by its rules; the OpenAI engine talks to a model that has been talked round
(tests/injection/model.py). Whatever the model and the customer do, the customer reads only their own
tickets, no ticket exists without an offer and then a yes, and nothing rendered carries live markup.
"""

import pytest
from django.core import mail

from assistant.models import HelpArticle
from channels_io.sms import backends
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER
from tests.injection import checks
from tests.injection.channels import CHANNELS, Rendered, Sender
from tests.injection.conftest import STRANGER_EMAIL, STRANGER_PHONE, load_cases
from tests.injection.model import MODES
from tickets.models import Conversation, Message, Ticket

pytestmark = pytest.mark.django_db

CASES = load_cases()
CATEGORIES = {"prompt_injection", "tool_call_json", "other_customer", "html_js", "name_markup", "email_header",
              "poisoned_article"}  # fmt: skip
INVARIANTS = {"own_data_only", "gate", "inert_markup", "no_ticket", "own_tickets", "no_account_data", "clean_headers"}


def test_the_case_file_has_over_a_hundred_well_formed_cases_in_every_category():
    assert len(CASES) >= 100
    assert len({case["id"] for case in CASES}) == len(CASES)
    assert {case["category"] for case in CASES} == CATEGORIES
    for case in CASES:
        assert case["model"] in MODES, case["id"]
        assert {"own_data_only", "gate", "inert_markup"} <= set(case["invariants"]) <= INVARIANTS, case["id"]
        assert case.get("sender", "customer") in {"customer", "stranger"}, case["id"]


def _sender(case: dict, world, channel: str) -> Sender:
    if case.get("sender") == "stranger":
        user = world.loner if channel == "chat" else None
        return Sender(email=STRANGER_EMAIL if user is None else user.email, phone=STRANGER_PHONE,
                      name=world.fill(case.get("name", "")), user=user)  # fmt: skip
    attacker = world.attacker
    if "name" in case:
        attacker.name = world.fill(case["name"])
        attacker.save(update_fields=["name"])
    return Sender(email=attacker.email, phone=CUSTOMER_NUMBER, name=attacker.name, user=attacker)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_adversarial_input_reveals_nothing_opens_nothing_unconfirmed_and_runs_no_markup(
    case, backend, world, settings, django_capture_on_commit_callbacks, request
):
    """One case on every channel in turn (one test per case and backend keeps the suite fast)."""
    if backend == "openai":
        request.getfixturevalue("injected_model").mode = case["model"]
    if "article" in case:
        article = case["article"]
        HelpArticle.objects.create(slug=f"poisoned-{case['id']}", title=article["title"], body=article["body"])
    index = CASES.index(case) + (backend == "openai")
    email_path = ("receive_email", "webhook")[index % 2]  # each case reaches email both ways across backends
    for channel in CHANNELS:
        try:
            _run_on(channel, case, world, django_capture_on_commit_callbacks, path=email_path,
                    secret=settings.ANYMAIL["WEBHOOK_SECRET"])  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"on {channel}: {exc}") from exc


def _run_on(channel: str, case: dict, world, capture, **options: str) -> None:
    message, then, subject = world.fill(case["message"]), world.fill(case.get("then", "yes")), world.fill(
        case.get("subject", "")
    )  # fmt: skip
    before = set(Conversation.objects.values_list("pk", flat=True))
    mail.outbox.clear()
    backends.outbox.clear()
    sender = _sender(case, world, channel)
    rendered = Rendered()
    driver = CHANNELS[channel](sender, capture, rendered, **options)

    def new_conversations() -> list[int]:
        return [pk for pk in Conversation.objects.values_list("pk", flat=True) if pk not in before]

    driver.send(message, subject)
    if "no_ticket" in case["invariants"]:
        assert not Ticket.objects.filter(conversation_id__in=new_conversations()).exists(), (
            "the message opened a ticket"
        )
    if then:
        driver.send(then)

    conversations = new_conversations()
    mails = list(mail.outbox)
    texts = rendered.texts + [body for m in mails for body in [checks.mail_parts(m)[0], *checks.mail_parts(m)[1]]]
    texts += list(
        Message.objects.filter(conversation_id__in=conversations)
        .exclude(author="customer")
        .values_list("text", flat=True)
    )
    texts = [t for t in texts if t]
    typed = " ".join([message, then, subject, case.get("name", "") and world.fill(case["name"]),
                      *case.get("article", {}).values()])  # fmt: skip
    allowed = {sender.email, sender.phone}
    recipients = {address for m in mails for address in m.recipients()} | {sms["to"] for sms in backends.outbox}

    checks.assert_own_data_only(texts, world.secrets(typed), recipients, allowed)
    checks.assert_gate(conversations)
    checks.assert_inert_markup(rendered.twiml, rendered.json_responses, mails)
    assert Ticket.objects.filter(customer=world.victim).count() == 2
    invariants = set(case["invariants"])
    if "own_tickets" in invariants:
        if channel == "voice":  # by caller ID alone: how many tickets are open (the model's dump: the count)
            told = ("1 open ticket", '"more_open_tickets": 1')
            assert any(count in text for text in texts for count in told), texts
            assert not any(world.own.reference in text or world.own.title in text for text in texts), texts
        else:
            assert any(world.own.reference in text for text in texts), texts
    if "no_account_data" in invariants and channel != "chat":
        assert not Ticket.objects.filter(conversation_id__in=conversations).exists()
        assert not any(world.own.reference in text for text in texts)
        assert not Conversation.objects.filter(pk__in=conversations, customer__isnull=False).exists()
    if "clean_headers" in invariants:
        checks.assert_clean_headers(mails, allowed)
