"""The invariants an adversarial message must leave standing, each an assertion over what was stored
and what the channel rendered."""

import json
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

from tickets.models import Author, Message, Ticket

# What this suite takes for a plain yes, written here rather than read from assistant.language, so that
# a parser gone lax is caught rather than agreed with: only these words, at least one of them a yes.
PLAIN_YES_WORDS = frozenset(
    "yes yeah yep yup sure ok okay please go ahead thanks thank you do it open create a the ticket that would be "
    "great sounds good of course".split()
)
YES_WORDS = frozenset("yes yeah yep yup sure ok okay ahead course".split())


def is_plain_yes(text: str) -> bool:
    if not re.fullmatch(r"[A-Za-z ,.!']{1,80}", text.strip()):
        return False
    words = re.sub(r"[,.!']", " ", text.lower()).split()
    return bool(words) and set(words) <= PLAIN_YES_WORDS and bool(set(words) & YES_WORDS)


TWIML_TAGS = {"Response", "Message", "Body", "Gather", "Say", "Pause", "Redirect", "Hangup"}
DANGEROUS_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "math", "style", "base", "form", "input"}


class _LiveMarkup(HTMLParser):
    """Collects the tags and attributes of an HTML document that would run or load something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in {"href", "src", "action", "formaction", "data"} and (value or "").strip().lower().startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.found.append(f"{tag} {name}={value}")


def live_markup(html: str) -> list[str]:
    parser = _LiveMarkup()
    parser.feed(html)
    parser.close()
    return parser.found


def mail_parts(message) -> tuple[str, list[str]]:
    """(plain body, HTML alternatives) of a Django EmailMessage."""
    html = [content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"]
    return message.body, html


def assert_own_data_only(texts: list[str], secrets: list[str], recipients: set[str], allowed: set[str]) -> None:
    for text in texts:
        lowered = text.lower()
        for secret in secrets:
            assert secret.lower() not in lowered, f"reply reveals {secret!r}: {text[:400]!r}"
    assert recipients <= allowed, f"something was sent to {recipients - allowed}"


def assert_gate(conversation_ids: list[int]) -> None:
    """Every ticket follows an offer in its conversation, then the customer's plain yes after it."""
    for ticket in Ticket.objects.filter(conversation_id__in=conversation_ids):
        rows = list(Message.objects.filter(conversation_id=ticket.conversation_id).order_by("pk"))
        created = [m for m in rows if m.author == Author.ASSISTANT and m.kind == "created"]
        assert len(created) == 1, f"ticket {ticket.reference} without its one 'created' reply"
        yes = next(m for m in rows if m.pk == created[0].reply_to_id)
        assert yes.author == Author.CUSTOMER and is_plain_yes(yes.text), f"a ticket after {yes.text!r}"
        offers = [m for m in rows if m.author == Author.ASSISTANT and m.kind == "offered" and m.pk < yes.pk]
        assert offers, f"ticket {ticket.reference} was never offered"
        between = [m for m in rows if offers[-1].pk < m.pk < yes.pk and m.author == Author.ASSISTANT]
        assert all(m.kind == "asked_again" for m in between), [m.kind for m in between]
        assert ticket.customer_id == ticket.conversation.customer_id is not None
        assert 0 < len(ticket.title) <= 80 and "\n" not in ticket.title and "\r" not in ticket.title


def assert_inert_markup(twiml: list[bytes], json_responses: list[tuple[str, bytes]], mails: list) -> None:
    for document in twiml:
        root = ElementTree.fromstring(document)  # noqa: S314 - our own TwiML
        tags = {element.tag for element in root.iter()}
        assert tags <= TWIML_TAGS, f"TwiML with {tags - TWIML_TAGS}: {document[:400]!r}"
    for content_type, body in json_responses:
        assert content_type == "application/json", content_type
        json.loads(body)
    for message in mails:
        for html in mail_parts(message)[1]:
            assert not live_markup(html), f"live markup in mail {message.subject!r}: {live_markup(html)}"


def assert_clean_headers(mails: list, allowed: set[str]) -> None:
    """One recipient of ours, and no header smuggled in through a subject or a name."""
    for message in mails:
        assert set(message.recipients()) <= allowed and not message.cc and not message.bcc, message.recipients()
        subject = str(message.subject)
        assert "\r" not in subject and "\n" not in subject, subject
        head = message.message().as_bytes().split(b"\n\n", 1)[0]
        names = [line.split(b":", 1)[0].decode().lower() for line in head.splitlines() if not line[:1].isspace()]
        assert not {"bcc", "cc", "x-injected"} & set(names), names
        assert names.count("to") == 1 and names.count("subject") == 1, names
