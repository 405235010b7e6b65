"""Signing and posting Twilio webhooks in tests, with twilio's own RequestValidator and a test token.

Fixtures here are imported by the conftest of tests/channels_io/sms and tests/channels_io/voice.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels_io.sms import backends
from loophole.models import PhoneNumber
from tests.channels_io.sms.fake_twilio import FakeTwilio
from tests.factories import UserFactory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twilio"
ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
AUTH_TOKEN = "test-auth-token-3f9a1c"
OUR_NUMBER = "+15555550000"
PUBLIC_URL = "https://support.example.com"
CUSTOMER_NUMBER = "+15555550100"
STRANGER_NUMBER = "+15555550199"


def payload(name: str, **changes: str) -> dict[str, str]:
    """A captured-shaped webhook form from tests/fixtures/twilio/<name>.json, with `changes`."""
    form = json.loads((FIXTURES / f"{name}.json").read_text())
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def sign(path: str, form: dict[str, str], *, token: str = AUTH_TOKEN, url: str | None = None) -> str:
    """X-Twilio-Signature for a POST of `form` to PUBLIC_URL + `path` (or to `url`)."""
    return RequestValidator(token).compute_signature(url or PUBLIC_URL + path, form)


def post(client, path: str, form: dict[str, str], *, signature: str | None = None, **headers: str):
    """POST a form-encoded webhook as Twilio does, signed unless a signature is given ("" for none)."""
    if signature is None:
        signature = sign(path, form)
    if signature:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(path, data=urlencode(form), content_type="application/x-www-form-urlencoded", **headers)


@pytest.fixture
def twilio(settings) -> None:
    """Twilio configured with a test account, webhooks signed for PUBLIC_URL, SMS to the locmem outbox."""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_PHONE_NUMBER = OUR_NUMBER
    settings.TWILIO_CONFIGURED = True
    settings.PUBLIC_URL = PUBLIC_URL
    settings.SMS_BACKEND = "channels_io.sms.backends.LocmemBackend"
    settings.OPENAI_API_KEY = ""
    backends.outbox.clear()


@pytest.fixture
def outbox(twilio) -> list[dict[str, str]]:
    return backends.outbox


@pytest.fixture
def fake_twilio(twilio, settings) -> Iterator[FakeTwilio]:
    """Twilio's REST API on loopback; the real client of TwilioBackend talks to it."""
    with FakeTwilio() as server:
        settings.SMS_BACKEND = "channels_io.sms.backends.TwilioBackend"
        settings.TWILIO_API_BASE_URL = server.base_url
        yield server


@pytest.fixture
def customer():
    """A customer with the phone number the captured payloads come from."""
    user = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=user, number=CUSTOMER_NUMBER)
    return user
