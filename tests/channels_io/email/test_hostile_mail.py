"""Hostile inbound mail (`adversarial.py`) through Postmark's webhook and through `receive_email`.

The webhook keeps the mail as it came and answers before anything parses it; the worker then stores
and answers it, or keeps it marked and tells its sender. MIME nested past the limit is refused (400,
exit 65). A mail not read within the parse budget is kept, marked and answered once, never retried
for ever. A message is never lost.
"""

import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels_io import tasks
from channels_io.email import intake
from channels_io.email.parsing import MAX_MIME_DEPTH
from channels_io.models import InboundEmail
from tests.assistant.helpers import add_articles
from tests.channels_io.email import adversarial as adv
from tests.channels_io.email.conftest import OUR_MTA, post_webhook
from tests.factories import UserFactory
from tickets.models import Author, Message

pytestmark = pytest.mark.django_db

Outcome = adv.Outcome


def by_pipe(raw: bytes) -> str:
    """`receive_email` as our mail server runs it (its Authentication-Results on top)."""
    head = f"Authentication-Results: {OUR_MTA}; dmarc=pass header.from=example.com\r\n".encode()
    out = io.StringIO()
    call_command("receive_email", stdin=io.BytesIO(head + raw), stdout=out)
    return out.getvalue()


@pytest.fixture
def dana(db):
    add_articles()
    return UserFactory(email=adv.SENDER, name="Dana Lee")


def customer_texts() -> list[str]:
    return list(Message.objects.filter(author=Author.CUSTOMER).order_by("pk").values_list("text", flat=True))


def mail_to_dana() -> list:
    return [sent for sent in mail.outbox if sent.to == [adv.SENDER]]


def through_webhook(raw: bytes, auth: str, capture) -> tuple[object, list]:
    """Post `raw`; the response and the work it queued (the worker's task), not yet run."""
    with capture() as queued:
        response = post_webhook(adv.postmark_payload(raw), auth=auth)
    return response, queued


def run(queued: list, capture) -> None:
    """Run queued work as the worker would, and whatever it queues in turn."""
    with capture(execute=True):
        for callback in queued:
            callback()


@pytest.mark.parametrize("name", list(adv.CASES))
def test_hostile_mail_is_stored_and_answered_or_refused_on_both_paths(
    name, dana, webhook_auth, django_capture_on_commit_callbacks
):
    raw, outcome = adv.CASES[name](), adv.OUTCOMES[name]

    # The webhook: kept as it came, nothing parsed in the request; then read by the worker.
    response, queued = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
    if outcome == Outcome.REFUSED:
        assert response.status_code == 400 and b"MIME" in response.content
        assert not InboundEmail.objects.exists() and queued == []
    else:
        assert response.status_code == 200, response.content
        kept = InboundEmail.objects.get()
        assert bytes(kept.payload) == raw
        assert kept.context["envelope_sender"] == adv.SENDER and "example.com" in kept.context["vouched_domains"]
        assert customer_texts() == []
        run(queued, django_capture_on_commit_callbacks)
        if outcome == Outcome.STORED:
            (text,) = customer_texts()
            assert adv.QUESTION in text
            assert not InboundEmail.objects.exists()  # filed
            assert len(mail_to_dana()) == 1  # the assistant's answer
        else:
            kept.refresh_from_db()
            assert kept.status == InboundEmail.Status.REFUSED and kept.answered_at is not None
            assert customer_texts() == []
            if outcome == Outcome.TOO_LONG:
                (notice,) = mail_to_dana()
                assert "at most 4000" in notice.body and notice.extra_headers["Auto-Submitted"] == "auto-replied"
            else:
                assert mail_to_dana() == []  # no sender could be read: no one to tell
    mail.outbox.clear()

    # The pipe: parsed in its own process, stored and answered, or refused with 65.
    piped = raw.replace(b"<adversarial.", b"<adversarial-pipe.", 1)
    if outcome == Outcome.STORED:
        with django_capture_on_commit_callbacks(execute=True):
            assert by_pipe(piped).startswith("stored:")
        assert adv.QUESTION in customer_texts()[-1] and len(customer_texts()) == 2
        assert len(mail_to_dana()) == 1
    else:
        before = customer_texts()
        with pytest.raises(CommandError) as refused:
            by_pipe(piped)
        assert refused.value.returncode == 65  # EX_DATAERR: the mail server bounces it to the sender
        assert customer_texts() == before
        if outcome == Outcome.REFUSED:
            assert "MIME" in str(refused.value)


@pytest.mark.parametrize(
    ("levels", "accepted"), [(MAX_MIME_DEPTH, True), (MAX_MIME_DEPTH + 1, False)], ids=["at-the-limit", "past-it"]
)
def test_mime_nested_to_the_limit_is_read_and_one_level_more_is_refused(
    levels, accepted, dana, webhook_auth, django_capture_on_commit_callbacks
):
    raw = adv.nested_mime(levels)
    response, queued = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
    assert response.status_code == (200 if accepted else 400)
    run(queued, django_capture_on_commit_callbacks)
    assert [adv.QUESTION in text for text in customer_texts()] == ([True] if accepted else [])
    if accepted:
        with django_capture_on_commit_callbacks(execute=True):
            assert by_pipe(raw.replace(b"<adversarial.", b"<pipe.", 1)).startswith("stored:")
    else:
        with pytest.raises(CommandError, match="nested more than 20 levels") as refused:
            by_pipe(raw)
        assert refused.value.returncode == 65
        assert not InboundEmail.objects.exists()


def test_a_mail_not_read_in_time_is_kept_marked_and_its_sender_told_once(
    dana, settings, webhook_auth, django_capture_on_commit_callbacks, time_machine
):
    settings.INBOUND_EMAIL_PARSE_SECONDS = 0
    raw = adv.normal()
    response, queued = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    run(queued, django_capture_on_commit_callbacks)
    kept = InboundEmail.objects.get()
    assert kept.status == InboundEmail.Status.FAILED and kept.attempts == 1
    assert bytes(kept.payload) == raw  # never lost
    assert customer_texts() == []
    (notice,) = mail.outbox
    assert notice.to == [adv.SENDER] and notice.body.startswith(intake.NOT_READ)
    assert notice.extra_headers["In-Reply-To"] == "<adversarial.normal@mail.example.com>"
    assert notice.extra_headers["Auto-Submitted"] == "auto-replied"

    # Run again, and swept later: neither read again nor told twice.
    with django_capture_on_commit_callbacks(execute=True):
        intake.file_email(kept.pk)
        intake.send_inbound_notice(kept.pk)
        time_machine.move_to(timezone.now() + timezone.timedelta(minutes=5))
        assert tasks.sweep_unanswered() == 0
    kept.refresh_from_db()
    assert kept.status == InboundEmail.Status.FAILED and kept.attempts == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"From: Dana Lee <dana@example.com>", b"From: Loophole support <support@loophole.localhost>"),
        (b"From: Dana Lee <dana@example.com>", b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>"),
        (b"MIME-Version: 1.0", b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0"),
        (b"From: Dana Lee <dana@example.com>", b"From: undisclosed-recipients:;"),
        (b"From: Dana Lee <dana@example.com>", b"From: " + b"(" * 3000 + b"x <dana@example.com>"),
    ],
    ids=["our-own-address", "mailer-daemon", "auto-responder", "no-address", "address-past-what-is-read"],
)
def test_no_reply_goes_to_ourselves_a_mailer_daemon_an_auto_responder_or_an_unreadable_sender(
    old, new, dana, settings, webhook_auth, django_capture_on_commit_callbacks
):
    settings.INBOUND_EMAIL_PARSE_SECONDS = 0
    response, queued = through_webhook(
        adv.normal().replace(old, new, 1), webhook_auth, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    run(queued, django_capture_on_commit_callbacks)
    kept = InboundEmail.objects.get()
    assert kept.status == InboundEmail.Status.FAILED and kept.answered_at is not None
    assert mail.outbox == []


def test_a_mail_whose_worker_keeps_dying_is_set_aside_after_its_attempts(
    dana, webhook_auth, django_capture_on_commit_callbacks
):
    response, _lost = through_webhook(adv.normal(), webhook_auth, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    kept = InboundEmail.objects.get()
    # Each attempt is counted before the reading starts: as if a worker died reading it each time.
    InboundEmail.objects.filter(pk=kept.pk).update(attempts=intake.MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True):
        intake.file_email(kept.pk)
    kept.refresh_from_db()
    assert kept.status == InboundEmail.Status.FAILED and kept.attempts == intake.MAX_ATTEMPTS + 1
    assert customer_texts() == []
    (notice,) = mail_to_dana()
    assert notice.body.startswith(intake.NOT_READ)


def test_a_kept_mail_whose_task_was_lost_is_filed_by_the_sweeper(
    dana, webhook_auth, django_capture_on_commit_callbacks, time_machine
):
    response, _lost = through_webhook(adv.normal(), webhook_auth, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_unanswered() == 0  # its own task may still be on the way
        time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))
        assert tasks.sweep_unanswered() == 1
    (text,) = customer_texts()
    assert adv.QUESTION in text
    assert not InboundEmail.objects.exists() and len(mail_to_dana()) == 1


def test_a_redelivered_mail_is_kept_once_and_a_refused_one_is_answered_once(
    dana, webhook_auth, django_capture_on_commit_callbacks
):
    for name in ("normal", "long_line"):
        raw = adv.normal() if name == "normal" else adv.long_line()
        first, queued = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
        again, queued_again = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
        assert first.status_code == again.status_code == 200 and queued_again == []
        run(queued, django_capture_on_commit_callbacks)
        _, after_refusal = through_webhook(raw, webhook_auth, django_capture_on_commit_callbacks)
        run(after_refusal, django_capture_on_commit_callbacks)
    assert len(customer_texts()) == 1
    assert InboundEmail.objects.get().status == InboundEmail.Status.REFUSED
    _answer, notice = mail_to_dana()
    assert "at most 4000" in notice.body


def test_a_postmark_payload_without_raw_email_and_a_header_too_long_to_rebuild_is_set_aside(
    dana, webhook_auth, django_capture_on_commit_callbacks
):
    payload = adv.postmark_payload(adv.normal())
    del payload["RawEmail"]
    payload["Headers"].append({"Name": "X-Long", "Value": "a " * 20_000})
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(payload, auth=webhook_auth)
    assert response.status_code == 200
    kept = InboundEmail.objects.get()
    assert kept.source == InboundEmail.Source.POSTMARK and kept.status == InboundEmail.Status.REFUSED
    assert "too long" in kept.detail
    (notice,) = mail_to_dana()
    assert "too long" in notice.body
