"""The world every injection case runs in, built once per module: a victim with tickets the attacker
must never learn about, an attacker with a ticket of their own, a customer with none, the help centre,
and the injected model on loopback."""

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from assistant.models import HelpArticle
from loophole.models import PhoneNumber
from tests.assistant.helpers import add_articles
from tests.channels_io.sms.twilio_helpers import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER_NUMBER, OUR_NUMBER, PUBLIC_URL
from tests.factories import UserFactory, make_ticket
from tests.injection.model import InjectedModel
from tickets import services as ticket_services
from tickets.models import Conversation, Status, Ticket

CASES_FILE = Path(__file__).with_name("cases.toml")
VICTIM_PHONE = "+15555550142"
STRANGER_PHONE = "+15555550199"
STRANGER_EMAIL = "nobody@elsewhere.example"


def load_cases() -> list[dict]:
    return tomllib.loads(CASES_FILE.read_text())["case"]


@dataclass(frozen=True)
class World:
    attacker: object
    loner: object  # logged in, no tickets: the chat channel's "stranger"
    victim: object
    own: Ticket
    victim_ticket: Ticket  # its reference is typed by attackers
    secret_ticket: Ticket  # never named anywhere: its reference must never surface
    conversation_ids: frozenset[int]

    def fill(self, text: str) -> str:
        return Template(text).safe_substitute(
            victim_ref=self.victim_ticket.reference,
            victim_ref_loose=self.victim_ticket.reference.lower().replace("-", " "),
            victim_email=self.victim.email,
            victim_phone=VICTIM_PHONE,
            own_ref=self.own.reference,
        )

    def secrets(self, typed: str) -> list[str]:
        """What the attacker must never read: the victim's data, except what they typed themselves."""
        always = [
            self.victim_ticket.title,
            "payroll",
            self.victim_ticket.action_taken,
            self.secret_ticket.title,
            self.secret_ticket.reference,
            self.victim.name,
            VICTIM_PHONE,
        ]
        unless_typed = [self.victim_ticket.reference, self.victim.email]
        typed = typed.lower()
        return [s for s in always + unless_typed if s.lower() not in typed]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with django_db_blocker.unblock():
        add_articles()
        victim = UserFactory(email="victim@example.com", name="Victoria Quillfeather")
        PhoneNumber.objects.create(user=victim, number=VICTIM_PHONE)
        victim_ticket = make_ticket(victim, title="Victim's confidential payroll issue")
        ticket_services.change_status(
            victim_ticket.pk, Status.RESOLVED, actor=None, action_taken="Wired 4,321.99 USD back to the bank"
        )
        victim_ticket.refresh_from_db()
        secret_ticket = make_ticket(victim, channel="sms", title="Quillfeather tax certificate mix-up")
        attacker = UserFactory(email="attacker@example.com", name="Mallory Attacker")
        PhoneNumber.objects.create(user=attacker, number=CUSTOMER_NUMBER)
        own = make_ticket(attacker, title="Attacker's own export problem")
        loner = UserFactory(email="loner@example.com", name="Lone Customer")
        existing = frozenset(Conversation.objects.values_list("pk", flat=True))
        users = [victim.pk, attacker.pk, loner.pk]
        yield World(attacker, loner, victim, own, victim_ticket, secret_ticket, existing)
        get_user_model().objects.filter(pk__in=users).delete()
        HelpArticle.objects.all().delete()


@pytest.fixture(scope="module")
def injected_model() -> Iterator[InjectedModel]:
    with InjectedModel() as server:
        yield server


@pytest.fixture(scope="module")
def channels_configured() -> Iterator[None]:
    """Twilio with a test account (webhooks signed for PUBLIC_URL), SMS to the locmem outbox, mail to
    Django's locmem outbox, and no model unless a test asks for one. Set once for the module."""
    with override_settings(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_PHONE_NUMBER=OUR_NUMBER,
        TWILIO_CONFIGURED=True,
        PUBLIC_URL=PUBLIC_URL,
        SMS_BACKEND="channels_io.sms.backends.LocmemBackend",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        OPENAI_API_KEY="",
    ):
        yield


@pytest.fixture(scope="module")
def no_ca_certificates(tmp_path_factory) -> str:
    """An empty CA directory. The OpenAI engine builds a client, and so a TLS context, per decision;
    loading the system's CA bundle into it would be most of this suite's runtime, and the fake model
    speaks plain HTTP on loopback."""
    return str(tmp_path_factory.mktemp("no-ca"))


@pytest.fixture(params=["local", "openai"])
def backend(request, settings, channels_configured, monkeypatch) -> str:
    if request.param == "openai":
        server = request.getfixturevalue("injected_model")
        monkeypatch.setenv("SSL_CERT_DIR", request.getfixturevalue("no_ca_certificates"))
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        settings.OPENAI_API_KEY = "test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_MODEL = "gpt-test"
    return request.param
