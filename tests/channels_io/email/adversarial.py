"""Hostile inbound mail: raw RFC 822 messages built to make a parser slow or greedy.

Shared by the tests (each case through the webhook and `receive_email`) and by
`bench/email_parse.py` (parse time and memory per case). Every builder returns the raw bytes of a
complete message from `SENDER` with its own Message-ID; `OUTCOMES` says what must become of it.
"""

import enum
import json
from collections.abc import Callable
from pathlib import Path

POSTMARK_JSON = Path(__file__).resolve().parents[2] / "fixtures" / "email" / "postmark_inbound.json"
SENDER = "dana@example.com"
QUESTION = "How do I export my data?"
NESTED_MIME_LEVELS = 1000  # far past the limit, where the stdlib's parser gives up (RecursionError)


class Outcome(enum.StrEnum):
    STORED = "stored"  # stored in a conversation and answered by the assistant
    TOO_LONG = "too_long"  # longer than a message may be: 65, or kept, marked and its sender told
    UNREADABLE = "unreadable"  # refused with no sender to tell: 65, or kept and marked
    REFUSED = "refused"  # MIME nested too deep or too wide: 400 from the webhook, 65 from `receive_email`


def message(body: bytes, *, name: str, content_type: str = "text/plain; charset=utf-8", headers: bytes = b"") -> bytes:
    head = (
        f"From: Dana Lee <{SENDER}>\r\n"
        "To: support@loophole.localhost\r\n"
        f"Subject: Adversarial {name}\r\n"
        f"Message-ID: <adversarial.{name}@mail.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
    ).encode()
    return head + headers + b"\r\n" + body


def blank_lines() -> bytes:
    """64 KB of empty lines after the question (the reply parser's `(\\n\\s*)+` patterns)."""
    return message(f"{QUESTION}\n".encode() + b"\n" * 65536 + b"Dana\n", name="blank-lines")


def whitespace_lines() -> bytes:
    """64 KB of lines holding only spaces and tabs, CRLF-ended."""
    return message(f"{QUESTION}\r\n".encode() + b" \t \r\n" * 13000 + b"Dana\r\n", name="whitespace-lines")


def quote_headers() -> bytes:
    """An "On ... wrote:" header repeated thousands of times under the question."""
    header = b"On Mon, 3 Nov 2025 at 10:00, Dana Lee <dana@example.com> wrote:\n"
    return message(f"{QUESTION}\n\n".encode() + header * 4000, name="quote-headers")


def quote_headers_unfinished() -> bytes:
    """ "On ..." openings that never say "wrote:" (a failing match at every line)."""
    return message(f"{QUESTION}\n\n".encode() + b"On Mon, 3 Nov 2025 at 10:00, Dana said\n" * 4000, name="quote-open")


def nested_quotes() -> bytes:
    """Quote prefixes nested ever deeper, then one line of 20,000 of them."""
    lines = [b"> " * depth + b"earlier text" for depth in range(1, 300)]
    body = f"{QUESTION}\n\n".encode() + b"\n".join(lines) + b"\n" + b"> " * 20000 + b"x\n"
    return message(body, name="nested-quotes")


def deep_html() -> bytes:
    """An HTML-only mail with 10,000 nested <div>s around the question."""
    html = b"<html><body>" + b"<div>" * 10000 + f"<p>{QUESTION}</p>".encode() + b"</div>" * 10000 + b"</body></html>"
    return message(html, name="deep-html", content_type="text/html; charset=utf-8")


def deep_html_quotes() -> bytes:
    """An HTML-only mail with 10,000 nested <blockquote>s (each level a longer `> ` prefix per line)."""
    inner = b"<blockquote><br>" * 10000 + b"old" + b"</blockquote>" * 10000
    html = f"<p>{QUESTION}</p>".encode() + inner
    return message(html, name="deep-html-quotes", content_type="text/html; charset=utf-8")


def unclosed_html() -> bytes:
    """Tags and comments that never close: `<a` and `<!--` thousands of times."""
    html = f"<p>{QUESTION}</p>".encode() + b"<a " * 20000 + b"<!--" * 20000 + b"</" * 20000
    return message(html, name="unclosed-html", content_type="text/html; charset=utf-8")


def numeric_references() -> bytes:
    """An HTML-only mail with a character reference of 5,000 digits (past what int() converts)."""
    html = f"<p>{QUESTION}</p><p>&#".encode() + b"1" * 5000 + b";</p>"
    return message(html, name="numeric-references", content_type="text/html; charset=utf-8")


def nested_mime(levels: int = NESTED_MIME_LEVELS) -> bytes:
    """multipart/mixed inside multipart/mixed, `levels` deep, the question at the bottom."""
    body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{QUESTION}\r\n".encode()
    for level in range(levels, 0, -1):
        boundary = f"b{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
            b"--" + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )
    head, _, rest = body.partition(b"\r\n\r\n")
    return message(rest, name=f"nested-mime-{levels}", content_type=head.split(b": ", 1)[1].decode())


def nested_rfc822(levels: int = NESTED_MIME_LEVELS) -> bytes:
    """A forwarded message inside a forwarded message, `levels` deep."""
    body = f"Content-Type: text/plain\r\n\r\n{QUESTION}\r\n".encode()
    for _ in range(levels):
        body = b"Content-Type: message/rfc822\r\n\r\n" + body
    return message(body.partition(b"\r\n\r\n")[2], name="nested-rfc822", content_type="message/rfc822")


def many_parts() -> bytes:
    """100,000 empty sibling parts in one multipart."""
    body = b"--p\r\n\r\n" * 100_000 + f"--p\r\nContent-Type: text/plain\r\n\r\n{QUESTION}\r\n--p--\r\n".encode()
    return message(body, name="many-parts", content_type='multipart/mixed; boundary="p"')


def header_bombs() -> bytes:
    """Headers built for the stdlib's parsers: a From of 50,000 words, a Subject of 10,000 encoded
    words, 20,000 References, and a Content-Type with 10,000 parameters."""
    headers = (
        b"Subject: " + b"=?utf-8?q?a?= " * 10_000 + b"\r\n"
        b"References: " + b" ".join(b"<r%d@mail.example.com>" % i for i in range(20_000)) + b"\r\n"
        b"X-Nested: " + b"(" * 50_000 + b"\r\n"
    )
    raw = message(f"{QUESTION}\r\n".encode(), name="header-bombs", headers=headers)
    raw = raw.replace(b"From: Dana Lee <", b"From: " + b"Dana " * 50_000 + b"<", 1)
    return raw.replace(b"charset=utf-8", b"charset=utf-8" + b"; a=b" * 10_000, 1)


def nested_comments_from() -> bytes:
    """A From header inside 5,000 nested comments (the address parser recurses per level)."""
    raw = message(f"{QUESTION}\r\n".encode(), name="nested-comments")
    return raw.replace(b"From: Dana Lee <", b"From: " + b"(" * 5000 + b"Dana" + b")" * 5000 + b" <", 1)


def long_line() -> bytes:
    """One line of 1 MB under the question (far over what one message may hold)."""
    return message(f"{QUESTION} ".encode() + b"x" * (1024 * 1024) + b"\n", name="long-line")


def long_quoted_line() -> bytes:
    """A quoted line of 1 MB under the question: only the question is new."""
    return message(f"{QUESTION}\n\n> ".encode() + b"y" * (1024 * 1024) + b"\n", name="long-quoted-line")


def many_lines() -> bytes:
    """The question, then 200,000 short quoted lines."""
    return message(f"{QUESTION}\n\n".encode() + b"> a\n" * 200000, name="many-lines")


def big_html() -> bytes:
    """An HTML-only mail of nearly 10 MB: the question, then markup with almost no text."""
    head = f"<html><body><p>{QUESTION}</p>".encode()
    filler = b'<span style="color:#000"></span>' * (9_900_000 // 33)
    return message(head + filler + b"</body></html>", name="big-html", content_type="text/html; charset=utf-8")


def big_html_text() -> bytes:
    """An HTML-only mail of nearly 10 MB of visible words (far over what one message may hold)."""
    filler = b"<p>" + b"lorem ipsum dolor " * 64 + b"</p>"
    html = f"<p>{QUESTION}</p>".encode() + filler * (9_900_000 // len(filler))
    return message(html, name="big-html-text", content_type="text/html; charset=utf-8")


def amounts_commas() -> bytes:
    """A charge disputed with "$1,1,1,1,..." run on for 3,000 characters."""
    body = f"{QUESTION} I was charged $".encode() + b"1," * 1500 + b"1 twice, refund 1,1,1,1 usd please."
    return message(body, name="amounts-commas")


def amounts_points() -> bytes:
    """ "$1.1.1.1..." and a digit run, with an invoice number of digits and dashes."""
    body = (
        f"{QUESTION} I paid $".encode() + b"1." * 1200 + b"1 and " + b"9" * 500 + b" EUR on invoice "
        b"INV-" + b"1-" * 300 + b"_x"
    )
    return message(body, name="amounts-points")


CASES: dict[str, Callable[[], bytes]] = {
    "blank_lines": blank_lines,
    "whitespace_lines": whitespace_lines,
    "quote_headers": quote_headers,
    "quote_headers_unfinished": quote_headers_unfinished,
    "nested_quotes": nested_quotes,
    "deep_html": deep_html,
    "deep_html_quotes": deep_html_quotes,
    "unclosed_html": unclosed_html,
    "numeric_references": numeric_references,
    "nested_mime": nested_mime,
    "nested_rfc822": nested_rfc822,
    "many_parts": many_parts,
    "header_bombs": header_bombs,
    "nested_comments_from": nested_comments_from,
    "long_line": long_line,
    "long_quoted_line": long_quoted_line,
    "many_lines": many_lines,
    "big_html": big_html,
    "big_html_text": big_html_text,
    "amounts_commas": amounts_commas,
    "amounts_points": amounts_points,
}

OUTCOMES: dict[str, Outcome] = {name: Outcome.STORED for name in CASES} | {
    "quote_headers_unfinished": Outcome.TOO_LONG,  # no "wrote:": all of it is new text
    "nested_mime": Outcome.REFUSED,
    "nested_rfc822": Outcome.REFUSED,
    "many_parts": Outcome.REFUSED,
    "header_bombs": Outcome.UNREADABLE,
    "nested_comments_from": Outcome.UNREADABLE,
    "long_line": Outcome.TOO_LONG,
    "big_html_text": Outcome.TOO_LONG,
}


def normal() -> bytes:
    """An ordinary reply (plain and HTML parts, a quoted history), for comparison."""
    text = (
        f"Hi,\n\n{QUESTION} I looked in the help centre.\n\nThanks,\nDana\n\n"
        "On Mon, 3 Nov 2025 at 10:00, Loophole support <support@loophole.localhost> wrote:\n"
        "> You can find your invoices under Billing.\n> \n> Loophole AI\n"
    )
    html = (
        f"<div dir=ltr><div>Hi,</div><div><br></div><div>{QUESTION} I looked in the help centre.</div>"
        '<div>Thanks,<br>Dana</div><div class="gmail_quote"><blockquote>You can find your invoices under '
        "Billing.</blockquote></div></div>"
    )
    body = (
        f"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--\r\n"
    ).encode()
    return message(body, name="normal", content_type='multipart/alternative; boundary="alt"')


def postmark_payload(raw: bytes) -> dict:
    """Postmark's inbound JSON around `raw` (the captured payload's shape), its fields filled in
    without parsing `raw`: the stdlib's parser gives up on some of these messages."""
    payload = json.loads(POSTMARK_JSON.read_text())
    payload["From"] = payload["FromFull"]["Email"] = SENDER
    payload["FromName"] = payload["FromFull"]["Name"] = "Dana Lee"
    payload["Subject"] = "Adversarial"
    payload["Headers"][0]["Value"] = f"<{SENDER}>"  # the envelope sender
    for header in payload["Headers"]:
        if header["Name"] == "Received-SPF":
            header["Value"] = header["Value"].replace("anna.schmidt@example.com", SENDER)
    payload["RawEmail"] = raw.decode("utf-8")
    return payload
