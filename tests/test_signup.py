"""Sign-up: an account whose address is verified by a mailed link that expires; until then the
customer is an unknown sender on every channel. No answer tells whether an address has an account."""

import base64
import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from assistant import wording
from channels_io.email.inbound import customer_for as email_customer_for
from channels_io.sms.adapter import customer_for as sms_customer_for
from loophole import account_emails
from loophole.admin import UserCreationAdminForm
from loophole.models import PhoneNumber
from tests.environment import PRODUCT_VARIABLES
from tests.factories import PASSWORD, ConversationFactory, UserFactory, make_ticket
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

User = get_user_model()
SIGNUP = "/accounts/signup/"
NEW_PASSWORD = "plum-orbit-candle-91"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/accounts/verify/[^/\s]+/)")


@pytest.fixture
def sign_up(browser):
    def post(email: str, *, ip: str = "198.51.100.7", password: str = NEW_PASSWORD):
        data = {"email": email, "name": "Nora", "password1": password, "password2": password}
        return browser(ip).post(SIGNUP, data)

    return post


def verification_path(message) -> str:
    (path,) = set(LINK.findall(message.body))
    html = message.alternatives[0][0]
    assert f"http://127.0.0.1:8000{path}" in html
    return path


@pytest.fixture
def mails():
    return mail.outbox


def chat(client: Client):
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    started = client.post("/chat/conversations/", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert started.status_code == 201
    cid = started.json()["id"]

    def say(text: str) -> str:
        sent = client.post(
            f"/chat/conversations/{cid}/messages/",
            json.dumps({"text": text}),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=token,
        )
        assert sent.status_code == 201, sent.content
        data = client.get(f"/chat/conversations/{cid}/messages/?after={sent.json()['id']}").json()
        return data["messages"][-1]["text"]

    say.conversation_id = cid
    return say


def test_sign_up_mails_a_link_that_verifies_the_address_then_the_chat_sees_own_tickets(mails, sign_up):
    response = sign_up("  Nora@Example.COM ")
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/done/"
    user = User.objects.get()
    assert user.email == "nora@example.com" and user.name == "Nora"
    assert user.email_verified_at is None and user.check_password(NEW_PASSWORD)
    (message,) = mails
    assert message.to == ["nora@example.com"]
    assert "support@loophole.localhost" in message.from_email
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    path = verification_path(message)
    payload = path.split("/")[-2].split(":")[0]
    assert b"nora" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))  # links reach access logs

    client = Client()
    assert client.login(username="NORA@example.com", password=NEW_PASSWORD)  # unverified, but may log in
    assert "Please confirm your email address" in client.get("/").content.decode()
    say = chat(client)
    assert say("what is the status of my tickets?") == wording.NO_ACCOUNT_TICKETS

    followed = client.get(path)
    assert followed.status_code == 302 and followed["Location"] == "/accounts/verify/done/"
    done = client.get(followed["Location"]).content.decode()
    assert "Your email address is confirmed" in done and "Please confirm your email address" not in done
    user.refresh_from_db()
    assert user.email_verified_at is not None
    ticket = make_ticket(user)
    assert ticket.reference in say("what is the status of my tickets?")
    listed = client.get("/chat/tickets/")
    assert listed.status_code == 200 and [t["id"] for t in listed.json()["tickets"]] == [ticket.reference]


def test_an_unverified_customer_chats_as_an_unknown_sender(mails):
    """An account someone made with another person's address: it must never show or open tickets."""
    dana = UserFactory(email="dana@example.com")
    ticket = make_ticket(dana)  # a ticket of the address's real owner, tied to this account somehow
    User.objects.filter(pk=dana.pk).update(email_verified_at=None)
    client = Client()
    client.force_login(dana)
    say = chat(client)
    status = say(f"what is the status of my tickets? {ticket.reference}")
    assert status == wording.NO_ACCOUNT_TICKETS and ticket.reference not in status
    assert say("I want a refund for my annual plan") == wording.NO_ACCOUNT_OFFER
    say("yes")
    say("yes, open a ticket please")
    assert Ticket.objects.count() == 1
    conversation = ticket_services.lock_conversation(say.conversation_id)
    assert conversation.state == "assistant"
    refused = client.get("/chat/tickets/")
    assert refused.status_code == 403 and "Confirm your email address" in refused.json()["error"]
    page = client.get("/").content.decode()
    assert "Please confirm your email address" in page and 'action="/accounts/verify/resend/"' in page


def test_a_ticket_cannot_be_created_for_an_unverified_account():
    conversation = ConversationFactory(customer=UserFactory(email_verified_at=None))
    ticket_services.store_customer_message(conversation.pk, "I was charged twice.")
    with pytest.raises(ticket_services.TicketError, match="verified"):
        ticket_services.create_ticket(conversation.pk, title="Refund", description="Charged twice.")
    assert not Ticket.objects.exists()


def test_sms_and_email_do_not_tie_a_sender_to_an_unverified_account():
    unverified = UserFactory(email="nora@example.com", email_verified_at=None)
    PhoneNumber.objects.create(user=unverified, number="+15555550123")
    assert sms_customer_for("+15555550123") is None
    assert email_customer_for("Nora@example.com") is None
    User.objects.filter(pk=unverified.pk).update(email_verified_at=timezone.now())
    assert sms_customer_for("+15555550123") == unverified
    assert email_customer_for("Nora@example.com") == unverified


def test_the_banner_shows_until_the_address_is_verified(client):
    nora = UserFactory(email_verified_at=None)
    client.force_login(nora)
    page = client.get("/").content.decode()
    assert "Please confirm your email address" in page and 'action="/accounts/verify/resend/"' in page
    User.objects.filter(pk=nora.pk).update(email_verified_at=timezone.now())
    page = client.get("/").content.decode()
    assert "Please confirm your email address" not in page and "/accounts/verify/resend/" not in page


def test_the_link_expires(mails, settings, sign_up):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        sign_up("nora@example.com")
        path = verification_path(mails[0])
        clock.shift(timedelta(seconds=settings.EMAIL_VERIFICATION_TIMEOUT + 1))
        expired = Client().get(path)
    assert expired.status_code == 400 and "This link has expired" in expired.content.decode()
    assert User.objects.get().email_verified_at is None


def test_the_link_works_until_it_expires(mails, settings, sign_up):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        sign_up("nora@example.com")
        path = verification_path(mails[0])
        clock.shift(timedelta(seconds=settings.EMAIL_VERIFICATION_TIMEOUT - 5))
        assert Client().get(path).status_code == 302
    assert User.objects.get().email_verified_at is not None


def test_a_used_link_changes_nothing_when_followed_again(mails, sign_up):
    sign_up("nora@example.com")
    path = verification_path(mails[0])
    assert Client().get(path).status_code == 302
    first = User.objects.get().email_verified_at
    again = Client().get(path)
    assert again.status_code == 302 and again["Location"] == "/accounts/verify/done/"
    assert User.objects.get().email_verified_at == first


def _tampered(token: str, how: str, other) -> str:
    payload, stamp, signature = token.split(":")
    if how == "signature":
        return f"{payload}:{stamp}:{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    if how == "other-account":  # another account's id under this link's signature
        forged = account_emails.verification_token(other).split(":")[0]
        return f"{forged}:{stamp}:{signature}"
    if how == "truncated":
        return token[: len(token) // 2]
    if how == "unsalted":  # signed with our key, but not as a verification link
        return signing.dumps(signing.loads(token, salt=account_emails.VERIFICATION_SALT))
    if how == "oversized":
        return token + "A" * 5000
    return "garbage"


@pytest.mark.parametrize("how", ["signature", "other-account", "truncated", "unsalted", "oversized", "garbage"])
def test_a_tampered_link_verifies_nothing(mails, how, sign_up):
    other = UserFactory(email="someone@example.com", email_verified_at=None)
    sign_up("nora@example.com")
    token = verification_path(mails[0]).split("/")[-2]
    response = Client().get(f"/accounts/verify/{_tampered(token, how, other)}/")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert "This link is not valid" in response.content.decode()
    assert not User.objects.filter(email_verified_at__isnull=False).exists()


def test_a_link_for_an_address_that_has_changed_verifies_nothing(mails, sign_up):
    sign_up("nora@example.com")
    path = verification_path(mails[0])
    User.objects.update(email="nora.new@example.com")
    assert Client().get(path).status_code == 400
    assert User.objects.get().email_verified_at is None


def test_signing_up_with_an_existing_address_answers_the_same_and_mails_its_owner(mails, sign_up):
    dana = UserFactory(email="dana@example.com")
    fresh = sign_up("fresh@example.com")
    existing = sign_up(" DANA@Example.com ")
    assert (existing.status_code, existing["Location"]) == (fresh.status_code, fresh["Location"])
    assert set(existing.cookies) == set(fresh.cookies)
    assert User.objects.filter(email__iexact="dana@example.com").count() == 1
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD) and not dana.check_password(NEW_PASSWORD)
    told = [m for m in mails if m.to == ["dana@example.com"]]
    assert len(told) == 1 and told[0].subject == "You already have a Loophole support account"
    assert "http://127.0.0.1:8000/accounts/password_reset/" in told[0].body
    assert not LINK.search(told[0].body)


def test_an_address_the_database_takes_for_an_existing_one_makes_no_second_account(requires_postgres, mails, sign_up):
    """PostgreSQL's case-insensitive match (log-in's look-up) takes a dotless i (U+0131) for an i: a second
    account would make that log-in ambiguous."""
    UserFactory(email="dana@mail.biz")
    assert sign_up("dana@mail.b\u0131z").status_code == 302
    assert User.objects.count() == 1
    assert [m.to for m in mails] == [["dana@mail.biz"]]


BAD_INPUT = {
    "mismatched": {"email": "nora@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
    "common": {"email": "nora@example.com", "password1": "password123", "password2": "password123"},
    "numeric": {"email": "nora@example.com", "password1": "4815162342108", "password2": "4815162342108"},
    "short": {"email": "nora@example.com", "password1": "k9#vq", "password2": "k9#vq"},
    "like-the-address": {
        "email": "nora.lindqvist@example.com",
        "password1": "noralindqvist",
        "password2": "noralindqvist",
    },
    "invalid-email": {"email": "nora@", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    "no-email": {"email": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    "oversized-email": {"email": "n" * 250 + "@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    "no-password": {"email": "nora@example.com", "password1": "", "password2": ""},
}


@pytest.mark.parametrize("data", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_a_form_error_and_creates_nothing(mails, data, browser):
    response = browser().post(SIGNUP, data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert 'class="errorlist' in response.content.decode()
    assert not User.objects.exists() and not mails


def test_a_duplicate_address_is_no_form_error_and_creates_nothing(mails, sign_up):
    UserFactory(email="dana@example.com")
    response = sign_up("dana@example.com")
    assert response.status_code == 302
    assert User.objects.count() == 1


def test_with_sign_up_off_the_page_is_gone_and_the_login_page_has_no_link(settings, mails, sign_up):
    login_page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in login_page
    settings.SIGNUP_ENABLED = False
    assert Client().get(SIGNUP).status_code == 404
    assert sign_up("nora@example.com").status_code == 404
    assert Client().get("/accounts/signup/done/").status_code == 404
    assert 'href="/accounts/signup/"' not in Client().get("/accounts/login/").content.decode()
    assert not User.objects.exists() and not mails


def test_sign_up_is_limited_per_address(settings, mails, sign_up, hour):
    settings.ACCOUNT_MAIL_PER_ADDRESS = 2
    UserFactory(email="dana@example.com")
    for i in range(2):
        assert sign_up("dana@example.com", ip=f"198.51.100.{i + 1}").status_code == 302
    refused = sign_up("DANA@example.com", ip="198.51.100.9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many requests for this address" in refused.content.decode()
    assert len(mails) == 2
    # An address without an account is limited alike: the limit tells nothing.
    for i in range(2):
        sign_up("nobody@example.com", ip=f"203.0.113.{i + 1}")
    assert sign_up("nobody@example.com", ip="203.0.113.9").status_code == 429
    assert User.objects.filter(email="nobody@example.com").exists()


def test_sign_up_is_limited_per_ip(settings, mails, sign_up, hour):
    settings.ACCOUNT_MAIL_PER_IP = 3
    for i in range(3):
        assert sign_up(f"nora{i}@example.com", ip="192.0.2.66").status_code == 302
    refused = sign_up("nora9@example.com", ip="192.0.2.66")
    assert refused.status_code == 429
    assert not User.objects.filter(email="nora9@example.com").exists()
    assert sign_up("nora9@example.com", ip="192.0.2.67").status_code == 302
    assert len(mails) == 4


def test_a_new_link_is_mailed_to_an_unverified_customer_on_request(settings, mails, browser):
    settings.ACCOUNT_MAIL_PER_ADDRESS = 2
    nora = UserFactory(email="nora@example.com", email_verified_at=None)
    client = browser()
    client.force_login(nora)
    sent = client.post("/accounts/verify/resend/")
    assert sent.status_code == 302 and sent["Location"] == "/accounts/verify/sent/"
    assert "nora@example.com" in client.get(sent["Location"]).content.decode()
    assert client.get(verification_path(mails[0])).status_code == 302
    assert User.objects.get(pk=nora.pk).email_verified_at is not None
    assert client.post("/accounts/verify/resend/").status_code == 302  # verified: nothing to send
    assert len(mails) == 1


def test_new_links_are_limited_and_need_a_login(settings, mails, browser, hour):
    settings.ACCOUNT_MAIL_PER_ADDRESS = 2
    assert browser().post("/accounts/verify/resend/")["Location"].startswith("/accounts/login/")
    client = browser()
    client.force_login(UserFactory(email="nora@example.com", email_verified_at=None))
    assert [client.post("/accounts/verify/resend/").status_code for _ in range(3)] == [302, 302, 429]
    assert len(mails) == 2
    assert client.get("/accounts/verify/resend/").status_code == 405


def test_existing_and_made_accounts_count_as_verified():
    assert UserFactory().email_verified_at is not None
    assert User.objects.create_user("operator@example.com", "x").email_verified_at is not None
    assert User.objects.create_user("later@example.com", "x", email_verified_at=None).email_verified_at is None
    staff_made = UserCreationAdminForm(
        data={
            "email": "Known@Example.com",
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        }
    )
    assert staff_made.is_valid(), staff_made.errors
    assert staff_made.save().email_verified_at is not None


def test_the_demo_accounts_count_as_verified(settings):
    settings.DEBUG = True  # seed_demo runs only with it on
    call_command("seed_demo", stdout=io.StringIO())
    assert not User.objects.filter(email_verified_at=None).exists()
    assert User.objects.filter(email__in=["demo@loophole.localhost", "staff@loophole.localhost"]).count() == 2


@pytest.mark.parametrize(("raw", "expected"), [("", "True"), ("false", "False"), ("0", "False"), ("yes", "True")])
def test_sign_up_is_switched_by_the_environment(raw, expected):
    assert _probe(SIGNUP_ENABLED=raw).stdout.strip() == expected


def test_a_bad_signup_enabled_fails_at_start_up_naming_it():
    result = _probe(SIGNUP_ENABLED="sometimes")
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "SIGNUP_ENABLED" in last


def _probe(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    clean.update(env, DJANGO_SETTINGS_MODULE="loophole.settings")
    code = "import django; from django.conf import settings; django.setup(); print(settings.SIGNUP_ENABLED)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_accounts_made_before_sign_up_are_verified_by_the_migration():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("loophole", "0002_user_email_verified_at")], [("loophole", "0003_existing_accounts_are_verified")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_user = executor.loader.project_state(before).apps.get_model("loophole", "User")
    joined = timezone.now() - timedelta(days=400)
    old_user.objects.create(email="old@example.com", password="!", date_joined=joined)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert User.objects.get(email="old@example.com").email_verified_at == joined
