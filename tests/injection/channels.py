"""Each channel driven from the outside, the way its callers do: the widget's JSON, signed Twilio SMS
and voice webhooks, and raw mail through `receive_email` or Postmark's inbound webhook.

A driver sends one customer message and keeps everything the channel rendered back: JSON bodies,
TwiML, texts in the SMS outbox, and mail in Django's outbox (read by the checks afterwards).
"""

import base64
import io
import itertools
import json
from dataclasses import dataclass, field
from email.header import Header
from xml.etree import ElementTree

from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from channels_io.email import adapter
from channels_io.sms import backends
from tests.channels_io.email.conftest import OUR_MTA, WEBHOOK, as_our_mta_delivers, basic_auth, postmark_payload
from tests.channels_io.sms.twilio_helpers import PUBLIC_URL, payload, post
from tickets.models import Author, Message

_sequence = itertools.count(1)
# One client for every request: a new Client loads the middleware again, and WhiteNoise's scan of the
# static files would then dominate the suite's runtime.
_client = Client()


@dataclass
class Rendered:
    """What the channel gave back to the customer's side, for the checks."""

    texts: list[str] = field(default_factory=list)  # what the customer reads or hears
    twiml: list[bytes] = field(default_factory=list)
    json_responses: list[tuple[str, bytes]] = field(default_factory=list)  # (content type, body)
    refused: list[str] = field(default_factory=list)  # why a channel refused a message


@dataclass
class Sender:
    email: str
    phone: str
    name: str = ""
    user: object = None  # the logged-in account on chat


class Chat:
    slug = "chat"

    def __init__(self, sender: Sender, capture, rendered: Rendered, **_: object) -> None:
        self.client = _client
        self.client.force_login(sender.user)
        self.capture, self.rendered = capture, rendered
        response = self.client.post("/chat/conversations/", content_type="application/json")
        assert response.status_code == 201, response.content
        self.conversation_id = response.json()["id"]
        self.after = 0

    def send(self, text: str, subject: str = "") -> None:
        text = f"{subject}\n\n{text}".strip() if subject else text
        url = f"/chat/conversations/{self.conversation_id}/messages/"
        with self.capture(execute=True):
            response = self.client.post(url, data=json.dumps({"text": text[:4000]}), content_type="application/json")
        self._keep(response)
        assert response.status_code in (201, 400, 413), response.content
        read = self.client.get(f"{url}?after={self.after}")
        self._keep(read)
        assert read.status_code == 200, read.content
        for message in read.json()["messages"]:
            self.after = max(self.after, message["id"])
            if message["author"] != "customer":
                self.rendered.texts.append(message["text"])

    def _keep(self, response) -> None:
        self.rendered.json_responses.append((response["Content-Type"], response.content))


class Sms:
    slug = "sms"

    def __init__(self, sender: Sender, capture, rendered: Rendered, **_: object) -> None:
        self.sender, self.capture, self.rendered = sender, capture, rendered
        backends.outbox.clear()

    def send(self, text: str, subject: str = "") -> None:
        text = f"{subject}\n\n{text}".strip() if subject else text
        sid = f"SM{next(_sequence):032x}"
        form = payload("sms_inbound", From=self.sender.phone, Body=text, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid)
        sent = len(backends.outbox)
        with self.capture(execute=True):
            response = post(_client, "/channels/sms/inbound", form)
        assert response.status_code in (200, 400, 413), response.content
        if response.status_code == 200:
            self.rendered.twiml.append(response.content)
            root = ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML
            self.rendered.texts += [m.text or "" for m in root.iter("Message")]
        self.rendered.texts += [m["body"] for m in backends.outbox[sent:]]


class Voice:
    slug = "voice"

    def __init__(self, sender: Sender, capture, rendered: Rendered, **_: object) -> None:
        self.capture, self.rendered = capture, rendered
        sid = f"CA{next(_sequence):032x}"
        self.form = payload("voice_inbound", From=sender.phone, Caller=sender.phone, CallSid=sid)
        self.twiml = self._post("/channels/voice/inbound", CallStatus="ringing")

    def _post(self, url: str, **fields: str) -> ElementTree.Element:
        with self.capture(execute=True):
            response = post(_client, url.removeprefix(PUBLIC_URL), {**self.form, **fields})
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "text/xml"
        self.rendered.twiml.append(response.content)
        return ElementTree.fromstring(response.content)  # noqa: S314 - our own TwiML

    def send(self, text: str, subject: str = "") -> None:
        speech = f"{subject} {text}".strip() if subject else text
        gather = self.twiml.find("Gather")
        if gather is None:
            return  # the call was ended (a goodbye): nothing more is heard
        twiml = self._post(gather.get("action"), CallStatus="in-progress", SpeechResult=speech, Confidence="0.93")
        while (redirect := twiml.find("Redirect")) is not None:
            twiml = self._post(redirect.text, CallStatus="in-progress")
        self.twiml = twiml
        self.rendered.texts.append(" ".join(say.text or "" for say in twiml.iter("Say")))


def _header_value(value: str) -> str:
    """A header value as a mail client would write it: plain ASCII as is, anything else (accents,
    control characters, CR/LF) as an RFC 2047 encoded word, which is how an injection arrives."""
    if value.isascii() and value.isprintable():
        return value
    return Header(value, "utf-8").encode()


def raw_email(
    sender: Sender, subject: str, body: str, *, message_id: str, in_reply_to: str = "", references: str = ""
) -> bytes:
    name = _header_value(sender.name) if sender.name else ""
    if name and not name.startswith("=?"):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    from_line = f"{name} <{sender.email}>" if name else sender.email
    headers = [
        f"From: {from_line}",
        "To: support@loophole.localhost",
        f"Subject: {_header_value(subject)}",
        f"Message-ID: {message_id}",
        "Date: Tue, 03 Jun 2025 09:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {references or in_reply_to}"]
    encoded = base64.encodebytes(body.encode("utf-8", errors="surrogatepass")).decode()
    return ("\r\n".join(headers) + "\r\n\r\n" + encoded).encode()


class Email:
    slug = "email"

    def __init__(self, sender: Sender, capture, rendered: Rendered, *, path: str, secret: str, **_: object) -> None:
        self.sender, self.capture, self.rendered, self.path = sender, capture, rendered, path
        self.auth = basic_auth(secret)
        self.first_id = ""
        self.subject = ""

    def send(self, text: str, subject: str = "") -> None:
        message_id = f"<inj{next(_sequence)}@mail.example.com>"
        if not self.first_id:
            self.first_id, self.subject = message_id, subject or "Question"
            raw = raw_email(self.sender, self.subject, text, message_id=message_id)
        else:  # a reply to our last mail, as a mail program writes it
            ours = self._last_reply()
            raw = raw_email(
                self.sender,
                f"Re: {self.subject}",
                text,
                message_id=message_id,
                in_reply_to=ours or self.first_id,
                references=f"{self.first_id} {ours}".strip(),
            )
        with self.capture(execute=True):
            if self.path == "receive_email":
                try:
                    with override_settings(EMAIL_AUTHSERV_IDS=(OUR_MTA,)):
                        call_command("receive_email", stdin=io.BytesIO(as_our_mta_delivers(raw)), stdout=io.StringIO())
                except CommandError as exc:
                    # A refusal is an answer too (the mail server bounces it), never a traceback.
                    assert exc.returncode == 65, exc
                    self.rendered.refused.append(str(exc))
            else:
                data = json.dumps(postmark_payload(raw))
                response = _client.post(WEBHOOK, data=data, content_type="application/json",
                                         HTTP_AUTHORIZATION=self.auth)  # fmt: skip
                assert response.status_code == 200, response.content

    def _last_reply(self) -> str:
        """The Message-ID of our newest mail to this sender ("" before any)."""
        reply = (
            Message.objects.filter(
                channel="email", conversation__sender=self.sender.email, author__in=(Author.ASSISTANT, Author.STAFF)
            )
            .order_by("-pk")
            .first()
        )
        return adapter.message_id_of(reply) if reply else ""


CHANNELS = {driver.slug: driver for driver in (Chat, Sms, Voice, Email)}
