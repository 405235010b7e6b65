"""Reading raw mail: the new text only, any charset, HTML-only, attachments, and what kind of mail it is."""

from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_io.email.parsing import MAX_MIME_DEPTH, MAX_RAW, Kind, RefusedEmail, TooDeeplyNested, check_raw, parse
from channels_io.email.text import html_to_text, latest_reply
from tests.channels_io.email import adversarial
from tests.channels_io.email.conftest import eml


@pytest.mark.parametrize(
    ("name", "expected", "quoted"),
    [
        ("gmail_reply", "Thanks, that worked. How do I export my data?", "reset link"),
        ("outlook_reply", "How do I cancel my subscription?\n\nRegards\nBob", "must not be stored"),
        ("apple_mail_reply", "How do I export my data as CSV?", "must not be stored"),
    ],
    ids=["gmail", "outlook", "apple-mail"],
)
def test_a_reply_keeps_only_the_new_text(name, expected, quoted):
    parsed = parse(eml(name))
    assert parsed.kind == Kind.CUSTOMER
    assert parsed.text == expected
    assert quoted not in parsed.text
    assert "wrote:" not in parsed.text and "Sent from my iPhone" not in parsed.text and "Best," not in parsed.text


def test_the_sender_is_the_lower_cased_from_address_and_the_message_id_the_external_id():
    parsed = parse(eml("gmail_question"))
    assert parsed.sender == "anna.schmidt@example.com"
    assert (
        parsed.external_id
        == parsed.message_id
        == "<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>"
    )
    assert parsed.subject == "Password reset"
    assert parsed.references == ()


def test_references_and_in_reply_to_are_read_in_order():
    parsed = parse(eml("gmail_reply"))
    assert parsed.references == (
        "<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>",
        "<OUR-REPLY-ID@loophole.localhost>",
    )


def test_html_only_mail_becomes_plain_text_without_markup_scripts_or_quotes():
    text = parse(eml("html_only")).text
    assert text.startswith("Hello Loophole,\n\nHow do I export my data?")
    assert "help centre (https://loophole.example/help/) & couldn\u2019t find it." in text
    assert "• Projects\n• Invoices" in text
    assert "<" not in text and "alert" not in text and "font:" not in text
    assert "must not be stored" not in text


def test_a_windows_1252_message_keeps_its_accents():
    parsed = parse(eml("windows1252"))
    assert parsed.subject == "Mot de passe oublié"
    assert "since my trip to Zürich I can\u2019t log in" in parsed.text
    assert "Renée Müller \u2013 Café Crème" in parsed.text


def test_an_unknown_charset_falls_back_to_latin_1_instead_of_failing():
    assert parse(eml("bad_charset")).text == "Café crème: how do I reset my password?"


def test_attachments_are_not_stored_but_named():
    text = parse(eml("attachment")).text
    assert text.startswith("How do I get a copy of my invoice?")
    assert text.endswith("[attachment: INV-2231.pdf]\n[attachment: screenshot.png]")
    assert "PDF-1.4" not in text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("bounce", Kind.BOUNCE),
        ("out_of_office", Kind.AUTOREPLY),
        ("own_mail", Kind.OWN),
        ("gmail_question", Kind.CUSTOMER),
    ],
    ids=["bounce", "out-of-office", "our-own-mail", "a-person"],
)
def test_mail_is_classified(name, kind):
    assert parse(eml(name)).kind == kind


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-generated",
        "Precedence: bulk",
        "Precedence: list",
        "Precedence: junk",
        "X-Autoreply: yes",
        "List-Id: <customers.example.com>",
        "X-Auto-Response-Suppress: OOF",
        "Subject: Out of Office: Re: Can't log in",
    ],
)
def test_auto_responders_are_recognised_by_their_headers(header):
    raw = eml("gmail_question").replace(b"Subject: Password reset\n", header.encode() + b"\n")
    assert parse(raw).kind == Kind.AUTOREPLY


def test_auto_submitted_no_is_a_person():
    raw = eml("gmail_question").replace(b"Subject: Password reset\n", b"Subject: Hi\nAuto-Submitted: no\n")
    assert parse(raw).kind == Kind.CUSTOMER


def test_the_null_envelope_sender_is_a_bounce():
    assert parse(eml("gmail_question"), envelope_sender="").kind == Kind.BOUNCE
    assert parse(eml("gmail_question"), envelope_sender="anna.schmidt@example.com").kind == Kind.CUSTOMER


def test_a_message_without_message_id_gets_a_stable_hash():
    raw = eml("gmail_question").replace(b"Message-ID: <CAHx7", b"X-Old-Id: <CAHx7")
    first, again = parse(raw), parse(raw)
    assert first.message_id == ""
    assert first.external_id == again.external_id
    assert first.external_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (eml("no_from"), "no From header"),
        (eml("malformed"), "not a valid email address"),
        (b"this is not an email at all\x00\x01", "no From header"),
        (
            eml("gmail_question").replace(b"From: Anna Schmidt <Anna.Schmidt@Example.com>", b"From: a@x.com, b@y.com"),
            "exactly one",
        ),
        (b"From: a@example.com\n\n" + b"x" * MAX_RAW, "at most"),
        (eml("gmail_question").replace(b"How do I reset my password?", b"word " * 900), "at most 4000"),
    ],
    ids=["empty", "blank", "no-from", "malformed-from", "garbage", "two-senders", "oversized", "new-text-too-long"],
)
def test_bad_mail_is_refused_with_a_clear_message(raw, reason):
    with pytest.raises(RefusedEmail, match=reason):
        parse(raw)


SEEDS = [eml(name) for name in ("gmail_reply", "outlook_reply", "html_only", "windows1252", "attachment", "bounce")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), cuts=st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=12)), max_size=6))
def test_damaged_mail_is_parsed_or_refused_never_crashes(seed, cuts):
    raw = bytearray(seed)
    for position, junk in cuts:
        position %= len(raw)
        raw[position : position + len(junk)] = junk
    try:
        parsed = parse(bytes(raw))
    except RefusedEmail:
        return
    assert len(parsed.text) <= 4000 and len(parsed.external_id) <= 255


def test_html_too_broken_for_the_html_parser_still_gives_its_words():
    raw = eml("html_only").replace(b"<!DOCTYPE html>", b'<!["c>\\?b>[:E html>')
    assert "How do I export my data?" in parse(raw).text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("outlook_reply", "How do I cancel my subscription?\n\nRegards\nBob"),
        ("gmail_reply", "Thanks, that worked. How do I export my data?"),
    ],
    ids=["outlook", "gmail"],
)
def test_the_html_part_alone_also_loses_the_quoted_history(name, expected):
    html = message_from_bytes(eml(name), policy=policy.default).get_body(("html",)).get_content()
    text = latest_reply(html_to_text(html))
    assert text.startswith(expected.split("\n")[0])
    assert "must not be stored" not in text and "Forgot password" not in text and "wrote:" not in text


QUOTED = "> the earlier message\n> that must not be stored"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi,\n\nTwo questions:\n- invoices\n- export\n\n"
            f"On Tue, 4 Nov 2025 at 11:02, Loophole support <support@loophole.localhost> wrote:\n{QUOTED}",
            "Hi,\n\nTwo questions:\n- invoices\n- export",
        ),
        (
            "Hallo,\n\nzwei Fragen:\n- Rechnungen\n- Export\n\n"
            f"Am 04.11.2025 um 11:02 schrieb Loophole support <support@loophole.localhost>:\n{QUOTED}",
            "Hallo,\n\nzwei Fragen:\n- Rechnungen\n- Export",
        ),
        (
            "Bonjour,\n\ndeux questions :\n- factures\n- export\n\n"
            f"Le mar. 4 nov. 2025 à 11:02, Loophole support <support@loophole.localhost> a écrit :\n{QUOTED}",
            "Bonjour,\n\ndeux questions :\n- factures\n- export",
        ),
        (
            "Hola,\n\ndos preguntas:\n- facturas\n- exportar\n\n"
            f"El mar, 4 nov 2025 a las 11:02, Loophole support (<support@loophole.localhost>) escribió:\n{QUOTED}",
            "Hola,\n\ndos preguntas:\n- facturas\n- exportar",
        ),
        (
            "Ciao,\n\ndue domande:\n- fatture\n- esportazione\n\nIl giorno mar 4 nov 2025 alle ore 11:02 "
            f"Loophole support <support@loophole.localhost> ha scritto:\n{QUOTED}",
            "Ciao,\n\ndue domande:\n- fatture\n- esportazione",
        ),
        (
            "Hallo,\n\ntwee vragen:\n- facturen\n- export\n\n"
            f"Op di 4 nov 2025 om 11:02 schreef Loophole support <support@loophole.localhost>:\n{QUOTED}",
            "Hallo,\n\ntwee vragen:\n- facturen\n- export",
        ),
        (
            "Hallo,\n- Rechnungen\n- Export\n\nVon: Loophole support <support@loophole.localhost>\n"
            "Gesendet: Dienstag, 4. November 2025 11:02\nAn: Dana\nBetreff: Export\n\nalt",
            "Hallo,\n- Rechnungen\n- Export",
        ),
        (
            "Hi,\n- invoices\n\n-----Original Message-----\nFrom: Loophole support\nSent: Tuesday\n\nold",
            "Hi,\n- invoices",
        ),
        (
            "CAUTION: This email originated from outside of the organization.\nHi,\n- invoices\n\n--\nDana Lee\nACME",
            "Hi,\n- invoices",
        ),
    ],
    ids=["en", "de", "fr", "es", "it", "nl", "outlook-de", "original-message", "disclaimer-and-signature"],
)
def test_a_reply_keeps_its_list_and_loses_the_quote_header_in_each_language(text, expected):
    assert latest_reply(text) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (adversarial.nested_rfc822(MAX_MIME_DEPTH + 1), "nested more than 20 levels"),
        (adversarial.many_parts(), "more than 500 MIME parts"),
        (adversarial.nested_mime(1000), "nested more than 20 levels"),
    ],
    ids=["attached-messages", "too-many-parts", "past-the-stdlibs-recursion"],
)
def test_mime_nested_too_deep_or_wide_is_refused_before_it_is_parsed(raw, reason):
    with pytest.raises(TooDeeplyNested, match=reason):
        check_raw(raw)
    with pytest.raises(TooDeeplyNested, match=reason):
        parse(raw)


def test_mime_is_read_to_its_depth_limit_and_refused_one_level_past_it():
    check_raw(adversarial.nested_mime(MAX_MIME_DEPTH))
    assert parse(adversarial.nested_mime(MAX_MIME_DEPTH)).text.startswith(adversarial.QUESTION)
    with pytest.raises(TooDeeplyNested, match="nested more than 20 levels"):
        check_raw(adversarial.nested_mime(MAX_MIME_DEPTH + 1))
    with pytest.raises(TooDeeplyNested, match="nested more than 20 levels"):
        parse(adversarial.nested_mime(MAX_MIME_DEPTH + 1))
