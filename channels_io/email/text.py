"""Turning a mail body into what the customer actually wrote: HTML to text, quotes and signatures cut.

Everything here is linear in its input: HTML is read by a small tokenizer that finds each `>` once
(html.parser and html5ever rescan unclosed tags or walk the open elements on every tag), nesting is
bounded, and the reply is told apart line by line with string tests, not backtracking patterns.
"""

import re
from collections import Counter
from html import unescape

# Only the top of a long body can hold the new reply; the rest is not read.
PARSE_WINDOW = 64 * 1024
HTML_WINDOW = 256 * 1024  # of markup: a reply's text comes first, styles and quoted history after
HTML_DEPTH = 100  # open elements tracked; deeper ones still break lines but are not kept
ATTRIBUTES_READ = 4096  # characters of a tag searched for its class, id, href or alt

_BLOCK = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "section"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area"})
_SKIP = frozenset({"script", "style", "head", "title", "template"})
# Mail programs wrap the quoted history in these; the reply parser then cuts the "> " lines.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
_QUOTE_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")

_TAG_NAME = re.compile(r"[a-zA-Z][^\t\n\r\f />\x00]*")
# An attribute we read, after whitespace or `/`; each alternative of the value starts with its own character.
_ATTRIBUTE = re.compile(r"""(?<![^\s/])(class|id|href|alt)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in ("script", "style")}
# A character reference past the last code point: html.unescape would convert its digits (and refuse
# more than 4,300 of them with a ValueError).
_OVERLONG_REFERENCE = re.compile(r"&#(?:[xX]0*[1-9a-fA-F][0-9a-fA-F]{6,}|0*[1-9][0-9]{7,});?")


class _TextWriter:
    """Collects the text of an HTML body; lines inside a quote container start with `> `."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0  # characters of text collected
        self.skip = 0
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.open: Counter[str] = Counter()  # tags on the stack, so an end tag finds its element at once
        self.untracked = 0  # elements opened past HTML_DEPTH
        self.href: list[str] = []

    def feed(self, html: str) -> None:
        """Tokenize `html` in one pass: text, tags and comments, each `>` or `-->` looked for once."""
        position, end = 0, len(html)
        while position < end and self.size < PARSE_WINDOW:
            lt = html.find("<", position)
            if lt < 0:
                self.handle_data(html[position:])
                return
            if lt > position:
                self.handle_data(html[position:lt])
            after = html[lt + 1 : lt + 2]
            if html.startswith("<!--", lt):
                close = html.find("-->", lt + 4)
                if close < 0:
                    return  # a comment that never closes runs to the end
                position = close + 3
                continue
            if not (after.isascii() and (after.isalpha() or after in "/!?")):
                self.handle_data("<")  # a `<` in the text
                position = lt + 1
                continue
            gt = html.find(">", lt)
            if gt < 0:
                return  # a tag that never closes: the rest is not text
            position = gt + 1
            tag = html[lt + 1 : gt]
            if after == "/":
                closed = _TAG_NAME.match(tag, 1)
                if closed:
                    self.handle_endtag(closed.group().lower())
            elif after.isalpha():
                found = _TAG_NAME.match(tag)
                assert found is not None  # it starts with a letter
                name, rest = found.group().lower(), tag[found.end() : found.end() + ATTRIBUTES_READ]
                self.handle_starttag(name, _attributes(rest) if "=" in rest else {})
                if tag.endswith("/"):
                    self.handle_endtag(name)
                elif name in _RAW_TEXT_END:
                    closing = _RAW_TEXT_END[name].search(html, position)
                    if closing is None:
                        return
                    position = closing.start()

    def _newline(self) -> None:
        self.parts.append("\n> " if self.quote_depth else "\n")

    def handle_starttag(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == "body":
            self.skip = 0  # a <head> left open ends here
        if tag in _SKIP:
            self.skip += 1
            return
        is_quote = tag == "blockquote"
        if attributes:
            is_quote = is_quote or any(c in attributes.get("class", "") for c in _QUOTE_CLASSES)
            is_quote = is_quote or attributes.get("id", "").lower() in _QUOTE_IDS
        if tag not in _VOID:
            if len(self.stack) < HTML_DEPTH:
                self.stack.append((tag, is_quote))
                self.open[tag] += 1
                self.quote_depth += is_quote
            else:
                self.untracked += 1
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
        if self.untracked and tag not in _VOID:
            self.untracked -= 1
        elif not self.open[tag]:
            return  # a stray end tag
        else:
            while self.stack:
                open_tag, is_quote = self.stack.pop()
                self.open[open_tag] -= 1
                self.quote_depth -= is_quote
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
            text = re.sub(r"\s+", " ", _unescape(data))
            self.parts.append(text)
            self.size += len(text)

    def text(self) -> str:
        lines = []
        for line in "".join(self.parts).splitlines():
            line = line.strip()
            lines.append("" if set(line) <= {">", " "} else line)
        return "\n".join(lines)


def _attributes(tag: str) -> dict[str, str]:
    """The class, id, href and alt of a tag (the text after its name), entities decoded."""
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(tag):
        name = match.group(1).lower()
        if name not in found:
            found[name] = _unescape(next(value for value in match.groups()[1:] if value is not None))
    return found


def _unescape(text: str) -> str:
    return unescape(_OVERLONG_REFERENCE.sub("\ufffd", text))


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: blocks on their own lines, links as `text (url)`, quoted
    blocks (`<blockquote>`, Gmail's and Outlook's quote containers) as `> ` lines for the reply
    parser to cut. Reads the top HTML_WINDOW characters, and stops at PARSE_WINDOW of text."""
    writer = _TextWriter()
    writer.feed(html[:HTML_WINDOW])
    return re.sub(r"\n{3,}", "\n\n", writer.text()).strip()


def latest_reply(text: str) -> str:
    """The new part of a reply: quoted history, "On … wrote:" headers, Outlook's header block,
    signatures and mail servers' disclaimers cut. Lines come stripped, blank runs as one blank line;
    the whole text when nothing new can be told apart."""
    lines = _lines(text[:PARSE_WINDOW])
    body = "\n".join(_without_signature(_first_reply(lines))).strip()
    return _without_trailing_quote(body or "\n".join(lines).strip())


# "On … wrote:" in the languages customers write in: (how the line starts, a word it holds, how it ends).
_WROTE = (
    ("on ", "", "wrote:"),
    ("am ", " schrieb ", ":"),
    ("le ", "a écrit", ":"),
    ("el ", "", "escribió:"),
    ("il ", "", "ha scritto:"),
    ("op ", " schreef", ":"),
)
_WROTE_OPENINGS = tuple(opening for opening, _, _ in _WROTE)
# Outlook's header block over the quoted mail: two or more of these lines in a row.
_FIELD = re.compile(
    r"[* ]*(?:from|sent|to|subject|date|cc|organization|von|gesendet|an|betreff|datum|organisation|de|envoyé|à"
    r"|objet|enviado|para|asunto|fecha|organización|da|inviato|a|oggetto|data|van|verzonden|aan|onderwerp)[ *]*:",
    re.IGNORECASE,
)
_ORIGINAL = frozenset(
    {
        "original message",
        "forwarded message",
        "ursprüngliche nachricht",
        "weitergeleitete nachricht",
        "message d'origine",
        "message transféré",
        "mensaje original",
        "mensaje reenviado",
        "messaggio originale",
        "messaggio inoltrato",
        "oorspronkelijk bericht",
        "doorgestuurd bericht",
    }
)
_SENT_FROM = (
    "sent from my",
    "get outlook for",
    "gesendet von",
    "envoyé depuis",
    "enviado desde mi",
    "inviato da",
    "verzonden vanaf mijn",
)
_GREETINGS = tuple(
    lead + word
    for lead in ("", "beste ", "besten ", "liebe ", "viele ")
    for word in ("grüß", "grüss", "grueß", "gruess", "gruß", "gruss")
)
_SIGN_OFFS = (
    *("best regards", "kind regards", "thanks,", "thank you,", "best,", "all the best", "regards,"),
    *("mit freundlichen grüßen", "mit freundlichen gruessen", *_GREETINGS),
    *("cordialement", "salutations", "bonne réception", "bonne reception", "bonne journée", "bonne journee"),
    *("saludos,", "atentamente,", "gracias,", "un saludo,", "cordialmente,", "muchas gracias,"),
    *("cordiali saluti", "met vriendelijke groet", "hartelijke groeten", "bedankt,", "dank u,"),
)
_DISCLAIMERS = (
    *("caution:", "disclaimer:", "warning:", "confidential:", "confidentiality:", "important notice:"),
    *("hinweis:", "wichtiger hinweis:", "achtung:", "aviso:", "confidencialidad:", "advertencia:"),
    *("descargo de responsabilidad:", "waarschuwing:"),
)


def _lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return lines


def _first_reply(lines: list[str]) -> list[str]:
    """The lines before the first quote header or separator (past it when nothing comes before: a forward)."""
    start = index = 0
    while index < len(lines):
        size = _separator(lines, index)
        if not size:
            index += 1
            continue
        if any(lines[start:index]):
            return lines[start:index]
        start = index = index + size
    return lines[start:]


def _separator(lines: list[str], index: int) -> int:
    """How many lines the quote header or separator at `index` takes (0: none there)."""
    line = lines[index].lstrip("> ")
    lower = line.lower()
    following = lines[index + 1].lstrip("> ") if index + 1 < len(lines) else ""
    if lower.startswith(_WROTE_OPENINGS):
        if _wrote(lower):
            return 1
        if following and _wrote(f"{lower} {following.lower()}"):
            return 2  # "On …, Name <address>" wrapped before "wrote:"
    if _FIELD.match(line) and _FIELD.match(following):
        size = 2
        while index + size < len(lines) and _FIELD.match(lines[index + size].lstrip("> ")):
            size += 1
        return size
    if len(line) >= 32 and not line.strip("_-"):
        return 1  # Outlook's rule over the quoted mail
    if line.startswith("-----") and line.strip("- ").lower() in _ORIGINAL:
        return 1
    return 0


def _wrote(lower: str) -> bool:
    return any(lower.startswith(start) and lower.endswith(end) and word in lower for start, word, end in _WROTE)


def _without_signature(lines: list[str]) -> list[str]:
    """The lines before a signature (`--`, "Sent from my …", a sign-off such as "Best regards," after
    the first line), without disclaimers mail servers add ("CAUTION: … email …")."""
    kept: list[str] = []
    any_text = False
    for line in lines:
        lower = line.lstrip("> ").lower()
        if lower in ("--", "__") or (lower.startswith(_SENT_FROM) and len(lower) <= 100):
            break
        if any_text and lower.startswith(_SIGN_OFFS):
            break
        if lower.startswith(_DISCLAIMERS) and "mail" in lower:
            continue
        kept.append(line)
        any_text = any_text or bool(line)
    return kept


def _without_trailing_quote(text: str) -> str:
    """Cut a `> ` block that ends the text with no "On … wrote:" line before it (the parser keeps
    those); quotes with new text after them (inline answers) stay."""
    lines = text.splitlines()
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    kept = "\n".join(lines[:end]).strip()
    return kept or text
