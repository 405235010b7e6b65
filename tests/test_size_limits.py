"""Size limits at every entry point, in one place: oversized input is refused with a clear 413 (or exit
status) and nothing is stored."""

import http.client
import io
import json
import logging
import os
import select
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client

from channels_io.email.parsing import MAX_RAW
from channels_io.email.views import MAX_PAYLOAD
from channels_io.sms.decorators import MAX_BODY
from tests.channels_io.email.conftest import WEBHOOK, basic_auth, eml, postmark_payload
from tests.channels_io.sms import twilio_helpers
from tests.channels_io.sms.twilio_helpers import customer, outbox, payload, post, twilio  # noqa: F401 - fixtures
from tests.conftest import ServiceProcess, free_port
from tests.environment import PRODUCT_VARIABLES
from tests.factories import UserFactory
from tickets.models import Conversation, Message

pytestmark = pytest.mark.django_db


def nothing_stored() -> bool:
    return not Message.objects.exists()


@pytest.fixture
def chat():
    client = Client()
    client.force_login(UserFactory())
    conversation_id = client.post("/chat/conversations/").json()["id"]
    return client, f"/chat/conversations/{conversation_id}/messages/"


@pytest.mark.parametrize(
    "body",
    [json.dumps({"text": "x" * 4001}), json.dumps({"text": "ab" * 10_000}), '{"text": "' + "x" * 100_000 + '"}'],
    ids=["4001-characters", "20k-characters", "100-kb-body"],
)
def test_chat_refuses_a_message_over_4000_characters_with_a_json_413(chat, body):
    client, url = chat
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"error": "The message is too long: at most 4000 characters."}
    assert nothing_stored()


def test_chat_takes_a_message_of_exactly_4000_characters(chat):
    client, url = chat
    assert client.post(url, {"text": "x" * 4000}, content_type="application/json").status_code == 201


def test_sms_refuses_a_text_over_4000_characters(client, customer, outbox):  # noqa: F811
    response = post(client, "/channels/sms/inbound", payload("sms_inbound", Body="x" * 4001))
    assert response.status_code == 413 and "at most 4000" in response.json()["error"]
    assert nothing_stored() and outbox == []


@pytest.mark.parametrize("path", ["/channels/sms/inbound", "/channels/voice/inbound", "/channels/voice/turn"])
def test_twilio_webhooks_refuse_a_body_over_64_kb_before_reading_it(client, twilio, customer, path):  # noqa: F811
    form = payload("sms_inbound" if "sms" in path else "voice_gather_speech", Extra="x" * 70_000)
    response = post(client, path, form)
    assert response.status_code == 413 and "too large" in response.json()["error"]
    assert nothing_stored() and not Conversation.objects.exists()


def test_receive_email_refuses_a_message_over_10_mb_with_exit_status_65():
    raw = b"From: dana@example.com\nSubject: big\n\n" + b"x" * MAX_RAW
    with pytest.raises(CommandError, match="at most 10485760") as refused:
        call_command("receive_email", stdin=io.BytesIO(raw))
    assert refused.value.returncode == 65  # EX_DATAERR: the mail server bounces it to the sender
    assert nothing_stored()


def test_the_email_webhook_refuses_a_payload_over_its_limit_with_413(settings):
    response = Client().post(
        WEBHOOK,
        data=json.dumps(postmark_payload(eml("gmail_question"))),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"]),
        CONTENT_LENGTH=str(MAX_PAYLOAD + 1),
    )
    assert response.status_code == 413 and b"too large" in response.content
    assert nothing_stored()


def test_the_email_webhook_takes_a_message_over_10_mb_off_the_queue_but_stores_nothing(settings, caplog):
    """Within the payload limit, a raw message over 10 MB is refused like other bad mail: logged, and a
    200 so that the provider does not post it again for days."""
    raw = eml("gmail_question") + b"x" * MAX_RAW
    with caplog.at_level(logging.WARNING, logger="channels_io.email.receivers"):
        response = Client().post(
            WEBHOOK,
            data=json.dumps(postmark_payload(raw)),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth(settings.ANYMAIL["WEBHOOK_SECRET"]),
        )
    assert response.status_code == 200
    assert "refused" in caplog.text and "at most 10485760" in caplog.text
    assert nothing_stored()


def test_an_email_whose_new_text_is_over_4000_characters_is_refused():
    raw = eml("gmail_question").replace(b"How do I reset my password?", b"Why? " * 1000)
    with pytest.raises(CommandError, match="at most 4000") as refused:
        call_command("receive_email", stdin=io.BytesIO(raw))
    assert refused.value.returncode == 65
    assert nothing_stored()


# Bodies refused while they arrive: a real uvicorn, and a raw socket that sends a chunked body (no
# Content-Length) a piece at a time and stops as soon as an answer comes. -----------------------------

TWILIO_ROUTES = ["/channels/sms/inbound", "/channels/voice/inbound", "/channels/voice/turn?n=1&quiet=0"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ServiceProcess]]:
    """uvicorn serving the app with Twilio configured (nothing here reaches the database); (port, process)."""
    tmp = tmp_path_factory.mktemp("body-limits")
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    env |= {"DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}", "DEBUG": "true",
            "TWILIO_ACCOUNT_SID": twilio_helpers.ACCOUNT_SID, "TWILIO_AUTH_TOKEN": twilio_helpers.AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": twilio_helpers.OUR_NUMBER}  # fmt: skip
    port = free_port()
    process = ServiceProcess(
        "web",
        [sys.executable, "-m", "uvicorn", "loophole.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--lifespan", "off", "--log-level", "info"],
        env,
        tmp / "web.log",
    )  # fmt: skip
    try:
        process.wait_for_output("Uvicorn running")
        yield port, process
    finally:
        process.stop()


def _request_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-www-form-urlencoded", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


def send_chunked(
    port: int, path: str, total: int, *, chunk: int = 4096, wait: float | None = 0.02
) -> tuple[int, int, bytes]:
    """POST `total` bytes chunked, `chunk` at a time, after each piece waiting up to `wait` seconds for an
    answer (None: as fast as the socket takes them). (bytes sent when the answer came, status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request_head(path, "Transfer-Encoding: chunked", "X-Twilio-Signature: not-twilios"))
        piece, sent = b"%x\r\n" % chunk + b"x" * chunk + b"\r\n", 0
        try:
            while sent < total:
                sock.sendall(piece)
                sent += chunk
                if wait is not None and select.select([sock], [], [], wait)[0]:
                    break  # answered (or closed) before the whole body was sent
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return sent, 0, b""  # cut off while sending at full speed
        return sent, *_answer(sock)


@pytest.mark.parametrize("path", TWILIO_ROUTES)
def test_a_chunked_twilio_webhook_is_refused_with_413_once_past_64_kb_before_its_signature_is_checked(server, path):
    port, _ = server
    sent, status, body = send_chunked(port, path, 8 * 1024)
    assert status == 403  # within the limit: the signature check answers
    sent, status, body = send_chunked(port, path, 16 * MAX_BODY)
    assert (status, json.loads(body)) == (413, {"error": "The request is too large."})
    assert MAX_BODY < sent < 16 * MAX_BODY, sent  # refused once past the limit, long before the end


def test_a_chunked_body_to_any_other_page_is_refused_past_djangos_upload_limit(server):
    port, _ = server
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    sent, status, body = send_chunked(port, "/accounts/login/", 2 * limit, chunk=64 * 1024)
    assert (status, json.loads(body)) == (413, {"error": "The request is too large."})
    assert limit < sent < 2 * limit, sent


@pytest.mark.parametrize(
    ("path", "declared", "refusal"),
    [
        (WEBHOOK, MAX_PAYLOAD + 1, b"The payload is too large."),
        ("/channels/voice/turn?n=1&quiet=0", MAX_BODY + 1, b'{"error": "The request is too large."}'),
        ("/chat/conversations/", 10**12, b'{"error": "The request is too large."}'),
    ],
    ids=["email-webhook", "twilio", "elsewhere"],
)
def test_a_declared_length_over_the_limit_is_refused_before_any_of_the_body_is_sent(server, path, declared, refusal):
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_request_head(path, f"Content-Length: {declared}", "Expect: 100-continue"))
        assert sock.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 413"  # no "100 Continue" first: nothing is read
        assert _answer(sock) == (413, refusal)


def test_a_body_sent_at_full_speed_is_cut_off_and_the_server_stays_small(server):
    port, process = server
    status_file = Path(f"/proc/{process.proc.pid}/status")
    if not status_file.exists():
        pytest.skip("needs /proc to read the server's peak memory")

    def peak_kb() -> int:
        line = next(line for line in status_file.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])

    send_chunked(port, "/channels/sms/inbound", 8 * 1024)  # warm: the first request loads the URLconf
    before, total = peak_kb(), 64 * 1024 * 1024
    for _ in range(3):
        sent, status, _ = send_chunked(port, "/channels/sms/inbound", total, chunk=256 * 1024, wait=None)
        assert sent < total and status == 0, (sent, status)  # the server hung up on it long before the end
    assert peak_kb() - before < 16 * 1024, f"peak memory grew by {peak_kb() - before} kB"
    assert send_chunked(port, "/channels/sms/inbound", 8 * 1024)[1] == 403  # still serving
