"""Fuzzing the Twilio webhooks: any form, correctly signed so the parser is reached, or unsigned.

Property: a 2xx with exactly the rows the form calls for, or a 4xx with nothing written; never a
500, never a half-written row.
"""

from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from channels_io.sms import adapter
from tests.channels_io.sms.twilio_helpers import (
    CUSTOMER_NUMBER,
    STRANGER_NUMBER,
    payload,
    sign,
)
from tests.fuzz.conftest import assert_consistent, changed, row_counts
from tickets.models import Message

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid three times in four, so most examples get past the first checks to the parser's depths."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: valid if ok else invalid)


SIDS = mostly(
    st.builds(lambda prefix, n: f"{prefix}{n:032x}", st.sampled_from(["SM", "MM"]), st.integers(0, 2**128 - 1)),
    st.one_of(ANY_TEXT, st.sampled_from(["SM", "SM" + "g" * 32, "sm" + "0" * 32, "SM" + "0" * 33])),
)
CALL_SIDS = mostly(st.builds(lambda n: f"CA{n:032x}", st.integers(0, 2**128 - 1)), ANY_TEXT)
NUMBERS = mostly(
    st.sampled_from([CUSTOMER_NUMBER, STRANGER_NUMBER, "+447700900123", " +1 (555) 555-0100 "]),
    st.one_of(ANY_TEXT, st.sampled_from(["", "anonymous", "+1", "+0123456789", "+15555550100\x00"])),
)
SIGNED = st.sampled_from([True, True, True, False])
BODIES = st.one_of(
    ANY_TEXT,
    st.sampled_from(["STOP", "start", " help ", "yes", "I want a refund", "\x00", "  ", "Stop!", "unstop"]),
    st.builds(lambda word, n: word * n, st.sampled_from(["a", "é ", "😀"]), st.integers(3990, 4010)),
)
FIELD_NAMES = st.one_of(
    st.sampled_from(["OptOutType", "NumMedia", "To", "AccountSid", "SmsStatus", "MediaUrl0", "Body[]"]),
    ANY_TEXT.filter(bool),
).filter(lambda name: name not in {"Body", "From", "MessageSid", "CallSid", "SpeechResult"})
EXTRA = st.dictionaries(FIELD_NAMES, ANY_TEXT, max_size=6)


def post(client, path: str, form: dict[str, str], *, signed: bool = True):
    headers = {"HTTP_X_TWILIO_SIGNATURE": sign(path, form)} if signed else {}
    return client.post(path, data=urlencode(form), content_type="application/x-www-form-urlencoded", **headers)


@FUZZ
@given(sid=SIDS, number=NUMBERS, body=BODIES, extra=EXTRA, signed=SIGNED, twice=st.booleans())
@example(sid="SM" + "0" * 32, number=CUSTOMER_NUMBER, body="I want a refund", extra={}, signed=True, twice=True)
@example(sid="SM" + "1" * 32, number=CUSTOMER_NUMBER, body="\x00", extra={}, signed=True, twice=False)
@example(sid="SM" + "2" * 32, number="+15555550100\x00", body="hi", extra={}, signed=True, twice=False)
def test_any_sms_webhook_is_stored_once_or_refused_with_nothing_written(
    twilio, customer, client, isolated, sid, number, body, extra, signed, twice
):
    form = {**payload("sms_inbound"), "MessageSid": sid, "SmsSid": sid, "From": number, "Body": body, **extra}
    with isolated() as run_on_commit:
        before = row_counts()
        for _ in range(2 if twice else 1):
            with run_on_commit():
                response = post(client, "/channels/sms/inbound", form, signed=signed)
            assert response.status_code < 500
        delta = changed(before)
        event(f"{'signed' if signed else 'unsigned'} {response.status_code}{' stored' if delta else ''}")
        if response.status_code == 400:
            event(response.json()["error"][:40])
        if not signed:
            assert response.status_code == 403 and delta == {}
        elif response.status_code >= 400:
            assert 400 <= response.status_code < 500 and delta == {}, (response.status_code, delta)
        else:
            ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML
            stored = list(Message.objects.filter(channel="sms", external_id=form["MessageSid"], author="customer"))
            assert len(stored) <= 1
            plain_text = form["Body"].strip() and not adapter.keyword(form["Body"]) and not form.get("OptOutType")
            if plain_text:
                assert len(stored) == 1, "a text was answered 200 but not stored"
            if stored:
                assert stored[0].text == form["Body"].strip()
            assert delta.get("tickets.Message", 0) <= 2  # the text and, at most, its answer
            assert delta.get("channels_io.InboundText", 0) == 0  # every accepted text was filed
            assert "tickets.Ticket" not in delta
        assert_consistent()


VOICE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "SpeechResult": st.one_of(ANY_TEXT, st.sampled_from(["yes", "I want a refund", "goodbye", "x" * 4100])),
        "Confidence": st.one_of(ANY_TEXT, st.sampled_from(["0.93", "0.1", "nan", "inf", "-1", "1e309"])),
        "CallStatus": st.one_of(ANY_TEXT, st.sampled_from(["in-progress", "completed", "busy", "ringing"])),
    },
)
QUERY = st.dictionaries(
    st.sampled_from(["n", "quiet", "m", "poll", "x"]),
    st.one_of(st.integers(-5, 10**7).map(str), ANY_TEXT),
    max_size=4,
)


@FUZZ
@given(
    path=st.sampled_from(["inbound", "turn", "wait", "status"]),
    sid=CALL_SIDS,
    number=NUMBERS,
    fields=VOICE_FIELDS,
    extra=EXTRA,
    query=QUERY,
    signed=SIGNED,
)
@example(path="turn", sid="CA" + "0" * 32, number=CUSTOMER_NUMBER, fields={"SpeechResult": "x" * 4100},
         extra={}, query={"n": "1"}, signed=True)  # fmt: skip
@example(path="turn", sid="CA" + "0" * 32, number=CUSTOMER_NUMBER, fields={"SpeechResult": "hi", "Confidence": "nan"},
         extra={}, query={"n": "99999"}, signed=True)  # fmt: skip
def test_any_voice_webhook_answers_twiml_or_a_4xx_with_nothing_written(
    twilio, customer, client, isolated, path, sid, number, fields, extra, query, signed
):
    form = {**payload("voice_inbound"), "CallSid": sid, "From": number, "Caller": number, **fields, **extra}
    url = f"/channels/voice/{path}" + (f"?{urlencode(query)}" if query else "")
    with isolated() as run_on_commit:
        before = row_counts()
        with run_on_commit():
            headers = {"HTTP_X_TWILIO_SIGNATURE": sign(url, form)} if signed else {}
            response = client.post(url, data=urlencode(form), content_type="application/x-www-form-urlencoded",
                                   **headers)  # fmt: skip
        delta = changed(before)
        event(f"{'signed' if signed else 'unsigned'} {response.status_code}{' stored' if delta else ''}")
        assert response.status_code < 500
        if not signed:
            assert response.status_code == 403 and delta == {}
        elif response.status_code >= 400:
            assert delta == {}, (response.status_code, delta)
        elif response.status_code == 200:
            ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML
            assert delta.get("tickets.Conversation", 0) <= 1
            assert delta.get("tickets.Message", 0) <= 2  # what the caller said and its answer
            assert "tickets.Ticket" not in delta
            for message in Message.objects.filter(channel="voice", author="customer"):
                assert message.conversation.thread == form["CallSid"]
        else:
            assert response.status_code == 204 and delta == {}
        assert_consistent()
