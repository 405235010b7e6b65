"""Fuzzing inbound email: raw messages built from hypothesis strategies (headers, charsets, encodings,
MIME structure, junk bytes) through `receive_email` and Postmark's inbound webhook.

Property: stored once (exit 0 / 200) with its conversation moved on, or refused with a clear message
(exit 65 / a 200 that stores nothing, or a 4xx) and nothing written; never a traceback or a 500.
"""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.channels_io.email.conftest import WEBHOOK, basic_auth, postmark_payload
from tests.factories import UserFactory
from tests.fuzz.conftest import assert_consistent, changed, row_counts

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "utf-16", "x-unknown", "", "utf-8\x00"])
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"])
JUNK = st.binary(max_size=40)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


def header(value: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a value a mail client would write (so examples get deep into the parser), else junk."""
    junk = st.one_of(WORDS.map(lambda text: text.encode("utf-8")), JUNK)
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: value if ok else junk)


ADDRESSES = header(
    st.sampled_from(
        [
            b"Anna <anna@example.com>",
            b"customer0@example.com",
            b"Customer <Customer0@Example.com>",
            b"customer0@example.com",
            b"=?utf-8?b?w4Vsw6k=?= <anna@example.com>",
            b"a@example.com, b@example.com",
            b"<>",
            b"MAILER-DAEMON@mx.example.com",
            b"support@loophole.localhost",
            b'"Eve\\r\\nBcc: x@y.z" <eve@example.com>',
            b"undisclosed-recipients:;",
        ]
    )
)
MESSAGE_IDS = header(
    st.one_of(
        st.integers(0, 10**6).map(lambda n: f"<fuzz{n}@mail.example.com>".encode()),
        st.sampled_from([b"", b"<>", b"<" + b"x" * 300 + b"@example.com>", b"no-angle-brackets@example.com"]),
    )
)
SUBJECTS = header(
    st.sampled_from([b"Refund", b"=?utf-8?q?Bcc=3A_x=0D=0ATo=3A_y?=", b"Out of office", b"=?bogus?x?abc?=", b""])
)


def content_type(kind: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(lambda k, c: f"{k}; charset={c}".encode(), kind, CHARSETS)


LEAF = st.builds(
    lambda ctype, cte, body: (b"Content-Type: " + ctype + b"\r\nContent-Transfer-Encoding: " + cte.encode(), body),
    content_type(st.sampled_from(["text/plain", "text/html", "application/pdf", "image/png", "message/rfc822"])),
    ENCODINGS,
    st.one_of(WORDS.map(lambda t: t.encode("utf-8")), JUNK, st.just(b"<p>How do I <b>reset</b> my password?</p>")),
)


def multipart(children: st.SearchStrategy) -> st.SearchStrategy:
    def build(kind: str, boundary: str, parts: list, close: bool) -> tuple[bytes, bytes]:
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n"
                        for head, content in parts)  # fmt: skip
        if close:
            body += b"--" + boundary.encode() + b"--\r\n"
        return f'Content-Type: multipart/{kind}; boundary="{boundary}"'.encode(), body

    return st.builds(
        build,
        st.sampled_from(["mixed", "alternative", "related", "report", "digest"]),
        st.sampled_from(["b1", "=_x", "", "a" * 80]),
        st.lists(children, max_size=4),
        st.booleans(),
    )


BODIES = st.recursive(LEAF, multipart, max_leaves=6)
EXTRA_HEADERS = st.lists(
    st.tuples(
        st.sampled_from([b"Auto-Submitted", b"Precedence", b"List-Id", b"Return-Path", b"X-Failed-Recipients",
                         b"In-Reply-To", b"References", b"MIME-Version", b"X-Weird", b"From", b"Subject"]),
        header(st.sampled_from([b"auto-replied", b"bulk", b"<list.example.com>", b"<>", b"1.0", b"no"])),
    ),
    max_size=4,
)  # fmt: skip


def raw_message(sender: bytes, subject: bytes, message_id: bytes, body: tuple[bytes, bytes], extra) -> bytes:
    head = [b"From: " + sender, b"To: support@loophole.localhost", b"Subject: " + subject, b"Message-ID: " + message_id]
    head += [name + b": " + value for name, value in extra]
    part_head, content = body
    return b"\r\n".join([*head, part_head]) + b"\r\n\r\n" + content


MESSAGES = st.builds(raw_message, ADDRESSES, SUBJECTS, MESSAGE_IDS, BODIES, EXTRA_HEADERS)
PLAIN = (b"Content-Type: text/plain; charset=utf-8", b"How do I reset my password?")


def assert_stored_once_or_nothing(delta: dict[str, int]) -> None:
    assert delta.get("tickets.Conversation", 0) <= 1, delta
    assert delta.get("tickets.Message", 0) <= 2, delta  # the customer's mail and its answer
    assert "tickets.Ticket" not in delta, delta
    assert_consistent()


@FUZZ
@given(raw=st.one_of(MESSAGES, JUNK, st.just(b"")))
@example(raw=raw_message(b"customer0@example.com", b"Hi", b"<e1@example.com>", PLAIN, []))
@example(
    raw=raw_message(
        b"customer0@example.com",
        b"=?utf-8?q?a=0D=0AB?=",
        b"<e2@x>",
        (b"Content-Type: text/plain; charset=utf-16", b"\xff\xfeh\x00"),
        [],
    )
)
def test_receive_email_stores_a_message_once_or_exits_65_with_nothing_written(isolated, raw):
    with isolated() as run_on_commit:
        UserFactory(email="customer0@example.com")
        before = row_counts()
        try:
            with run_on_commit():
                call_command("receive_email", stdin=io.BytesIO(raw), stdout=io.StringIO())
        except CommandError as exc:
            event("refused")
            assert exc.returncode == 65 and str(exc).startswith("Message refused: "), exc
            assert changed(before) == {}
        else:
            delta = changed(before)
            event("stored" if delta else "not stored")
            assert_stored_once_or_nothing(delta)


@FUZZ
@given(raw=st.one_of(MESSAGES, JUNK), with_raw=st.booleans(), errors=st.sampled_from(["replace", "surrogateescape"]))
@example(raw=b"\xff\xfe\x00junk", with_raw=True, errors="surrogateescape")  # anymail raised UnicodeEncodeError: a 500
def test_the_inbound_webhook_answers_2xx_or_4xx_and_never_half_writes(
    isolated, client, settings, raw, with_raw, errors
):
    auth = basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"])
    text = raw.decode("utf-8", errors=errors)  # Postmark sends text; lone surrogates only as \\udcxx escapes
    try:
        payload = postmark_payload(text.encode("utf-8", errors="surrogateescape"), include_raw=False)
    except (UnicodeError, ValueError, IndexError):
        payload = {"From": "", "Headers": [], "Subject": ""}
    if with_raw:
        payload["RawEmail"] = text
    with isolated() as run_on_commit:
        before = row_counts()
        with run_on_commit():
            response = client.post(WEBHOOK, data=json.dumps(payload), content_type="application/json",
                                   HTTP_AUTHORIZATION=auth)  # fmt: skip
        delta = changed(before)
        event(f"{response.status_code}{' stored' if delta else ''}")
        assert response.status_code < 500
        if response.status_code >= 300:
            assert delta == {}
        assert_stored_once_or_nothing(delta)


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), WORDS),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(WORDS, inner, max_size=4)),
    max_leaves=12,
)
POSTMARK_KEYS = st.sampled_from(["From", "FromFull", "To", "Subject", "TextBody", "HtmlBody", "Headers", "RawEmail",
                                 "MessageID", "Attachments", "ToFull", "Date"])  # fmt: skip


@FUZZ
@given(
    body=st.one_of(
        st.dictionaries(POSTMARK_KEYS, JSON, max_size=8), JSON, st.binary(max_size=80).map(lambda b: b.hex())
    ),
    as_bytes=st.binary(max_size=60),
    raw_body=st.booleans(),
)
@example(body={"TextBody": []}, as_bytes=b"", raw_body=False)  # a list for a body was a 500
@example(body=[1], as_bytes=b"", raw_body=False)  # not an object: anymail's parser raised (a 500)
def test_any_json_or_bytes_to_the_inbound_webhook_is_a_2xx_or_4xx(isolated, client, settings, body, as_bytes, raw_body):
    auth = basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"])
    data = as_bytes if raw_body else json.dumps(body)
    with isolated() as run_on_commit:
        before = row_counts()
        with run_on_commit():
            response = client.post(WEBHOOK, data=data, content_type="application/json", HTTP_AUTHORIZATION=auth)
        delta = changed(before)
        event(f"{response.status_code}{' stored' if delta else ''}")
        assert response.status_code < 500
        if response.status_code >= 300:
            assert delta == {}
        assert_stored_once_or_nothing(delta)
