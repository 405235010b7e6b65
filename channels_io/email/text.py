"""Turning a mail body into what the customer actually wrote: HTML to text, quotes and signatures cut."""

import re
from html import unescape
from html.parser import HTMLParser

import nh3
from mailparser_reply import EmailReplyParser

# Only the top of a long body can hold the new reply; the parser's regexes need not see the rest.
PARSE_WINDOW = 64 * 1024
LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]

_BLOCK = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "section"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area"})
_SKIP = frozenset({"script", "style", "head", "title", "template"})
# Mail programs wrap the quoted history in these; the reply parser then cuts the "> " lines.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")


class _TextWriter(HTMLParser):
    """Collects the text of an HTML body; lines inside a quote container start with `> `."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.href: list[str] = []

    def _newline(self) -> None:
        self.parts.append("\n" + "> " * self.quote_depth)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: (value or "") for name, value in attrs}
        if tag in _SKIP:
            self.skip += 1
            return
        is_quote = tag == "blockquote" or any(c in attributes.get("class", "") for c in _QUOTE_CLASSES)
        is_quote = is_quote or attributes.get("id", "").lower() in _QUOTE_IDS
        if tag not in _VOID:
            self.stack.append((tag, is_quote))
            if is_quote:
                self.quote_depth += 1
        if tag in _BLOCK or is_quote:
            self._newline()
        if tag == "li":
            self.parts.append("• ")
        if tag == "a":
            self.href.append(attributes.get("href", ""))
        if tag == "img" and attributes.get("alt"):
            self.parts.append(f"[{attributes['alt']}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if not any(open_tag == tag for open_tag, _ in self.stack):
            return  # a stray end tag
        while self.stack:
            open_tag, is_quote = self.stack.pop()
            if is_quote:
                self.quote_depth -= 1
            if open_tag == tag:
                break
        if tag == "a" and self.href:
            href = self.href.pop()
            if href.startswith(("http://", "https://")) and href not in self.parts[-1]:
                self.parts.append(f" ({href})")
        if (tag in _BLOCK and tag != "li") or tag == "blockquote":
            self._newline()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        lines = []
        for line in "".join(self.parts).splitlines():
            line = line.strip()
            lines.append("" if set(line) <= {">", " "} else line)
        return "\n".join(lines)


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: blocks on their own lines, links as `text (url)`, quoted
    blocks (`<blockquote>`, Gmail's and Outlook's quote containers) as `> ` lines for the reply
    parser to cut."""
    writer = _TextWriter()
    try:
        writer.feed(html)
        writer.close()
        text = writer.text()
    except (AssertionError, ValueError):
        # html.parser gives up on some broken declarations: keep the words, drop every tag.
        text = unescape(nh3.clean(re.sub(r"(?i)<(br|/p|/div|/li|/tr)\b[^>]*>", "\n", html), tags=set()))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def latest_reply(text: str) -> str:
    """The new part of a reply: quoted history, "On … wrote:" headers, Outlook's header block and
    signatures cut (mail-parser-reply). The whole text when nothing new can be told apart."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:PARSE_WINDOW]
    parsed = EmailReplyParser(languages=LANGUAGES).read(text)
    body = (parsed.replies[0].body or "").strip() if parsed.replies else ""
    return _without_trailing_quote(body or text.strip())


def _without_trailing_quote(text: str) -> str:
    """Cut a `> ` block that ends the text with no "On … wrote:" line before it (the parser keeps
    those); quotes with new text after them (inline answers) stay."""
    lines = text.splitlines()
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    kept = "\n".join(lines[:end]).strip()
    return kept or text
