"""Who sent a mail: the From header names an account only when SPF, DKIM or DMARC passed for its
domain (Postmark's verdict, or our own mail server's Authentication-Results), and a reply joins a
thread only through one of our Message-IDs whose stamp verifies."""

import io
import time

import pytest
from django.core.management import call_command

from channels_io.email import adapter, identity
from tests.channels_io.email.conftest import OUR_MTA, PLACEHOLDER, as_our_mta_delivers, eml, post_webhook
from tests.channels_io.email.conftest import postmark_payload as payload_of
from tickets.models import Author, Conversation, Message, Ticket

pytestmark = pytest.mark.django_db

ANNA = b"anna.schmidt@example.com"


def pipe(raw: bytes) -> None:
    call_command("receive_email", stdin=io.BytesIO(raw), stdout=io.StringIO())


def our_reply() -> Message:
    return Message.objects.filter(channel="email", author=Author.ASSISTANT).latest("pk")


def answering(name: str) -> bytes:
    return eml(name).replace(PLACEHOLDER, adapter.message_id_of(our_reply()).encode())


def set_header(payload: dict, name: str, value: str) -> dict:
    for header in payload["Headers"]:
        if header["Name"] == name:
            header["Value"] = value
    return payload


SPF_PASS_FOR = 'pass (sender authorized) receiver=pm; identity=mailfrom; envelope-from="{}"; client-ip=192.0.2.7'


# Postmark payloads that do not vouch for Anna's address, each built from the captured payload.
UNVOUCHED_PAYLOADS = {
    "spf-fail": lambda p: set_header(p, "Received-SPF", "fail (not authorized) envelope-from=anna.schmidt@example.com"),
    "spf-softfail": lambda p: set_header(p, "Received-SPF", "softfail envelope-from=anna.schmidt@example.com"),
    "spf-pass-for-another-domain": lambda p: set_header(p, "Received-SPF", SPF_PASS_FOR.format("bounce@evil.example")),
    "spf-pass-for-a-bare-suffix": lambda p: set_header(p, "Received-SPF", SPF_PASS_FOR.format("x@com")),
    "a-second-received-spf-came-with-the-mail": lambda p: {
        **set_header(p, "Received-SPF", "fail envelope-from=anna.schmidt@example.com"),
        "Headers": p["Headers"] + [{"Name": "Received-SPF", "Value": SPF_PASS_FOR.format("anna.schmidt@example.com")}],
    },
    "dkim-valid-but-not-the-authors-domain": lambda p: set_header(
        set_header(p, "Received-SPF", "none"), "X-Spam-Tests", "DKIM_SIGNED,DKIM_VALID"
    ),
    "a-second-x-spam-tests-came-with-the-mail": lambda p: {
        **set_header(p, "Received-SPF", "none"),
        "Headers": p["Headers"] + [{"Name": "X-Spam-Tests", "Value": "DKIM_VALID_AU"}],
    },
    "no-headers-at-all": lambda p: {**p, "Headers": []},
}


@pytest.mark.parametrize("forge", UNVOUCHED_PAYLOADS.values(), ids=UNVOUCHED_PAYLOADS.keys())
def test_postmark_mail_whose_checks_did_not_pass_is_an_unknown_sender(
    anna, webhook_auth, django_capture_on_commit_callbacks, forge
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(forge(payload_of(eml("refund_request"))), auth=webhook_auth).status_code == 200
    conversation = Conversation.objects.get(channel="email")
    assert conversation.customer is None and conversation.sender == "anna.schmidt@example.com"


def test_postmark_dkim_of_the_authors_domain_vouches_without_spf(
    anna, webhook_auth, django_capture_on_commit_callbacks
):
    payload = set_header(payload_of(eml("refund_request")), "Received-SPF", "softfail envelope-from=a@example.com")
    set_header(payload, "X-Spam-Tests", "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_SOFTFAIL")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(payload, auth=webhook_auth).status_code == 200
    assert Conversation.objects.get(channel="email").customer == anna


# What reaches `receive_email` from a mail server that put its verdict on top, or none.
UNVOUCHED_PIPED = {
    "no-authentication-results": lambda raw: raw,
    "our-server-says-fail": lambda raw: as_our_mta_delivers(raw, "fail"),
    "a-forged-pass-below-our-servers-fail": lambda raw: as_our_mta_delivers(as_our_mta_delivers(raw), "fail"),
    "a-pass-from-a-server-we-do-not-trust": lambda raw: as_our_mta_delivers(raw).replace(
        OUR_MTA.encode(), b"mx.attacker.example"
    ),
    "a-pass-for-another-domain": lambda raw: (
        b"Authentication-Results: "
        + OUR_MTA.encode()
        + b"; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example\r\n"
        + raw
    ),
}


@pytest.mark.parametrize("deliver", UNVOUCHED_PIPED.values(), ids=UNVOUCHED_PIPED.keys())
def test_piped_mail_whose_checks_did_not_pass_is_an_unknown_sender(anna, django_capture_on_commit_callbacks, deliver):
    with django_capture_on_commit_callbacks(execute=True):
        pipe(deliver(eml("refund_request")))
    conversation = Conversation.objects.get(channel="email")
    assert conversation.customer is None


def test_without_a_trusted_mail_server_no_piped_mail_names_an_account(
    anna, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_AUTHSERV_IDS = ()
    with django_capture_on_commit_callbacks(execute=True):
        pipe(as_our_mta_delivers(eml("refund_request")))
    assert Conversation.objects.get(channel="email").customer is None


@pytest.mark.parametrize(
    "header",
    [
        "{mta}; dmarc=pass (p=reject) header.from=example.com",
        "{mta} 1; dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.s=s1",
        "{mta}; spf=pass (sender is authorized) smtp.mailfrom=anna.schmidt@example.com",
        "{mta}; spf=fail smtp.mailfrom=x@evil.example; dkim/1=pass header.d=mail.example.com",
        "{MTA}; dmarc=pass header.from=example.com",
    ],
    ids=["dmarc", "dkim-versioned-authserv", "spf", "dkim-of-a-subdomain", "authserv-id-any-case"],
)
def test_each_passing_check_of_our_mail_server_vouches_for_the_sender(anna, header, django_capture_on_commit_callbacks):
    line = header.format(mta=OUR_MTA, MTA=OUR_MTA.upper())
    with django_capture_on_commit_callbacks(execute=True):
        pipe(f"Authentication-Results: {line}\r\n".encode() + eml("refund_request"))
    assert Conversation.objects.get(channel="email").customer == anna


@pytest.mark.parametrize("path", ["receive_email", "webhook"])
def test_two_spoofed_mails_open_no_ticket_on_the_customers_account(
    anna, path, webhook_auth, django_capture_on_commit_callbacks, smtp_server
):
    """The attack: a mail in the customer's name asking for a ticket, then a 'yes' in its thread."""

    def spoofed(raw: bytes) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            if path == "receive_email":
                pipe(raw)  # the attacker's own server: no verdict of ours on top
            else:
                forged = set_header(payload_of(raw), "Received-SPF", "fail envelope-from=anna.schmidt@example.com")
                assert post_webhook(forged, auth=webhook_auth).status_code == 200

    spoofed(eml("refund_request"))
    first_id = b"<CAHx7KqdR3fQ9mN2bV6cX8zL1kJ4hG7fD5sA3pO0iU9yT2rE6wQ@mail.gmail.com>"
    spoofed(eml("refund_yes").replace(PLACEHOLDER, first_id))
    assert not Ticket.objects.exists()
    assert not Conversation.objects.filter(customer=anna).exists()
    assert not any(
        "ticket" in m.get_body(("plain",)).get_content().lower() and "LH-" in str(m) for m in smtp_server.messages
    )


def test_a_reply_naming_only_the_customers_own_message_id_starts_a_new_thread(anna, deliver_mail):
    deliver_mail(eml("gmail_question"))
    root = b"<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com>"
    deliver_mail(eml("gmail_reply").replace(PLACEHOLDER, root))
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize("tamper", ["stamp", "conversation"])
def test_a_reply_through_a_made_up_message_id_of_ours_starts_a_new_thread(anna, deliver_mail, tamper):
    deliver_mail(eml("gmail_question"))
    reply = our_reply()
    genuine = adapter.message_id_of(reply)
    if tamper == "stamp":
        forged = genuine.replace(genuine.split(".")[3].split("@")[0], "0123456789abcdef")
    else:  # a stamp of ours, moved to another conversation's number
        forged = genuine.replace(f"loophole.{reply.conversation_id}.", f"loophole.{reply.conversation_id + 7}.")
    assert forged != genuine
    raw = eml("gmail_reply").replace(b"<CAHx7KqYq3n0r8GmU2Vd1sWm3x9Q1p8aKc3n7FZQ5Lw+2vR9uTA@mail.gmail.com> ", b"")
    deliver_mail(raw.replace(PLACEHOLDER, forged.encode()))
    assert Conversation.objects.count() == 2


def test_a_reply_through_our_genuine_message_id_joins_its_thread(anna, deliver_mail):
    deliver_mail(eml("refund_request"))
    deliver_mail(answering("refund_yes"))
    (conversation,) = Conversation.objects.all()
    ticket = Ticket.objects.get()
    assert ticket.customer == anna and ticket.conversation_id == conversation.pk


def test_authentication_results_readers_take_the_topmost_trusted_header():
    raw = (
        b"Authentication-Results: other.example; dmarc=pass header.from=example.com\r\n"
        b"Authentication-Results: mx.ours (comment; with = signs) ; dkim=pass (good (nested) sig) header.d=example.org;"
        b" spf=neutral smtp.mailfrom=example.com\r\n"
        b"Authentication-Results: mx.ours; dmarc=pass header.from=forged.example\r\n"
        b"From: a@example.org\r\n\r\nbody"
    )
    assert identity.mta_domains(raw, ["mx.ours"]) == ["example.org"]
    assert identity.mta_domains(raw, ["other.example"]) == ["example.com"]
    assert identity.mta_domains(raw, []) == []
    assert (
        identity.mta_domains(
            b"From: a@example.org\r\n\r\nAuthentication-Results: mx.ours; dkim=pass header.d=x.org", ["mx.ours"]
        )
        == []
    )


@pytest.mark.parametrize(
    ("sender", "domains", "aligned"),
    [
        ("a@example.com", ["example.com"], True),
        ("a@Example.COM", ["example.com."], True),
        ("a@mail.example.com", ["example.com"], True),
        ("a@example.com", ["mail.example.com"], True),
        ("a@example.com", ["example.co"], False),
        ("a@badexample.com", ["example.com"], False),
        ("a@example.com", ["com"], False),
        ("a@example.com", [], False),
        ("not-an-address", ["example.com"], False),
    ],
)
def test_alignment_of_the_sender_with_the_vouched_domains(sender, domains, aligned):
    assert identity.aligned(sender, domains) is aligned


@pytest.mark.parametrize(
    "value",
    [
        "(" * 200_000 + "mx.ours; dkim=pass header.d=example.com",
        "mx.ours; " + "dkim=pass header.d=example.com; " * 50_000,
    ],
    ids=["deep-comments", "many-results"],
)
def test_hostile_authentication_results_cost_little(value):
    raw = f"Authentication-Results: {value}\r\nFrom: a@example.com\r\n\r\nbody".encode()
    started = time.perf_counter()
    identity.mta_domains(raw, ["mx.ours"])
    identity.postmark_domains({"Headers": [{}, {"Name": "Received-SPF", "Value": "pass " + value}]})
    assert time.perf_counter() - started < 1.0
