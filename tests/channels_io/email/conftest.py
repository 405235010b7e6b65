"""Inbound email the two ways it arrives: `manage.py receive_email` on stdin, and Postmark's
inbound webhook (its real JSON shape, with RawEmail, basic auth as anymail checks it)."""

import base64
import io
import json
from collections.abc import Callable
from email import message_from_bytes, policy
from email.utils import parseaddr
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.assistant.helpers import add_articles
from tests.factories import UserFactory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
WEBHOOK = "/anymail/postmark/inbound/"
PLACEHOLDER = b"<OUR-REPLY-ID@loophole.localhost>"
OUR_MTA = "mx.loophole.test"  # the authserv-id of the mail server in front of `receive_email`


def eml(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def postmark_payload(raw: bytes, *, include_raw: bool = True) -> dict:
    """Postmark's inbound JSON for `raw`: the captured payload's shape, this message's fields."""
    payload = json.loads((FIXTURES / "postmark_inbound.json").read_text())
    message = message_from_bytes(raw, policy=policy.compat32)
    name, address = parseaddr(str(message.get("From", "")))
    payload["From"] = payload["FromFull"]["Email"] = address
    payload["FromName"] = payload["FromFull"]["Name"] = name
    payload["Subject"] = str(message.get("Subject", ""))
    # Postmark puts the envelope sender (SMTP MAIL FROM) first in Headers; "<>" for a bounce.
    payload["Headers"][0]["Value"] = str(message.get("Return-Path", f"<{address}>"))
    # Its SPF check passed for this sender (the captured payload's was Anna's).
    for header in payload["Headers"]:
        if header["Name"] == "Received-SPF":
            header["Value"] = header["Value"].replace("anna.schmidt@example.com", address)
    if include_raw:
        payload["RawEmail"] = raw.decode("utf-8")
    return payload


def basic_auth(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def post_webhook(payload: dict, *, auth: str | None) -> object:
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return Client().post(WEBHOOK, data=json.dumps(payload), content_type="application/json", **headers)


@pytest.fixture
def webhook_auth(settings) -> str:
    return basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"])


def as_our_mta_delivers(raw: bytes, result: str = "pass") -> bytes:
    """`raw` with the Authentication-Results header our mail server adds on top (DMARC for the
    From domain), as it reaches `receive_email` through the server's pipe."""
    _, address = parseaddr(str(message_from_bytes(raw, policy=policy.compat32).get("From", "")))
    domain = address.rpartition("@")[2] or "invalid"
    return f"Authentication-Results: {OUR_MTA}; dmarc={result} header.from={domain}\r\n".encode() + raw


def by_command(raw: bytes) -> str:
    out = io.StringIO()
    call_command("receive_email", stdin=io.BytesIO(as_our_mta_delivers(raw)), stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def our_mta(settings) -> str:
    settings.EMAIL_AUTHSERV_IDS = (OUR_MTA,)
    return OUR_MTA


@pytest.fixture(params=["receive_email", "webhook"])
def deliver_mail(request, webhook_auth, django_capture_on_commit_callbacks) -> Callable[[bytes], None]:
    """Hand one raw message in through either path and run what it queues (answer, delivery)."""

    def through_webhook(raw: bytes) -> None:
        response = post_webhook(postmark_payload(raw), auth=webhook_auth)
        assert response.status_code == 200, response.content

    handle = by_command if request.param == "receive_email" else through_webhook

    def deliver(raw: bytes) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            handle(raw)

    deliver.path = request.param
    return deliver


@pytest.fixture
def anna(db):
    add_articles()
    return UserFactory(email="anna.schmidt@example.com", name="Anna Schmidt")
