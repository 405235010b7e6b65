"""A raw message's MIME tree measured, and bounded, in one pass over its bytes, before the stdlib parses it.

The stdlib's feed parser nests a generator per level (every line passes through all of them) and its
readers recurse, so a deep tree costs time and, past a few hundred levels, a RecursionError; it also
holds several copies of the message and an object per line. This scanner follows the same rules (a
header block ends at a blank line, at a delimiter or at a line that is not a header; a line
`--boundary` of any open multipart starts its next part; `message/*` holds a whole message) without
building anything. It gives the tree's depth and part count, so that a webhook can refuse such mail
before storing it, and the bytes the parser needs to see: every header block, the start of each
text body (up to BODY_READ), and nothing of attachments' contents, preambles and epilogues (never
read), all within KEEP_BYTES and KEEP_LINES.
"""

import re
from dataclasses import dataclass

HEADERS_MAX = 256 * 1024  # one header block; a longer one is reported, not cut
BODY_READ = 512 * 1024
KEEP_BYTES = 1024 * 1024
KEEP_LINES = 50_000

# A line that ends a header block: a delimiter, a blank line, or a line that is not a header.
_HEADERS_END = re.compile(rb"^(?:--|(?![!-9;-~]*:|[\t ]|From ))", re.MULTILINE)
_CONTENT_TYPE = re.compile(
    rb"^content-type[ \t]*:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE
)
_BOUNDARY = re.compile(rb"""(?<![\w*-])boundary[ \t]*=[ \t]*(?:"([^"\r\n]*)"|([^\s;"]+))""", re.IGNORECASE)
_DELIMITER = re.compile(rb"^--([^\r\n]*)", re.MULTILINE)
_BARE_CR = re.compile(rb"\r(?!\n)")


@dataclass(frozen=True)
class Shape:
    depth: int  # containers (multiparts, attached messages) open at once, at the deepest
    parts: int  # parts of all multiparts
    long_headers: bool  # a header block is longer than HEADERS_MAX
    bounded: bytes  # what the parser needs of the message ("" when the scan stopped at a limit)


def shape(raw: bytes, *, max_depth: int, max_parts: int) -> Shape:
    """The message's shape; the scan stops as soon as it is past `max_depth` or `max_parts`."""
    if _BARE_CR.search(raw):
        raw = re.sub(rb"\r\n?", b"\n", raw)  # the feed parser ends lines at a lone CR too
    return _Scan(raw, max_depth, max_parts).run()


class _Scan:
    def __init__(self, data: bytes, max_depth: int, max_parts: int) -> None:
        self.data, self.max_depth, self.max_parts = data, max_depth, max_parts
        self.levels: list[tuple[bytes | None, bool]] = []  # open containers: (boundary or None, is a digest)
        self.active: dict[bytes, list[int]] = {}  # boundary -> the levels it delimits, innermost last
        self.open_boundaries = self.depth = self.parts = 0
        self.end_of_headers: re.Match[bytes] | None = None
        self.kept: list[bytes] = []
        self.kept_bytes = self.kept_lines = 0
        self.long_headers = False

    def _shape(self, bounded: bytes) -> Shape:
        return Shape(self.depth, self.parts, self.long_headers, bounded)

    def run(self) -> Shape:
        position, default = 0, b"text/plain"
        while True:
            content_type, boundary, position = self._headers(position, default)
            default = b"text/plain"
            if content_type.startswith(b"message/") and content_type != b"message/delivery-status":
                if not self._open(None, is_digest=False):
                    return self._shape(b"")
                continue  # its body is the attached message's header block
            is_multipart = content_type.startswith(b"multipart/") and boundary is not None
            if is_multipart and not self._open(boundary, is_digest=content_type == b"multipart/digest"):
                return self._shape(b"")
            is_text = not is_multipart and content_type.startswith((b"text/", b"message/"))
            found = self._next_part(position, BODY_READ if is_text else 0)
            if found is None:
                return self._shape(b"".join(self.kept))
            position, level = found
            self.parts += 1
            if self.parts > self.max_parts:
                return self._shape(b"")
            if self.levels[level - 1][1]:
                default = b"message/rfc822"  # a digest's parts are messages unless they say otherwise

    def _keep(self, start: int, end: int, limit: int) -> None:
        """Keep data[start:end], cut to `limit` bytes and to what is left of the budget (at a line end
        when there is one in reach)."""
        limit = min(end - start, limit, KEEP_BYTES - self.kept_bytes)
        if limit <= 0:
            return
        line_end = self.data.rfind(b"\n", start, start + limit) if limit < end - start else -1
        if line_end >= 0:
            limit = line_end + 1 - start
        lines = self.data.count(b"\n", start, start + limit)
        if self.kept_lines + lines > KEEP_LINES:
            cut = start
            for _ in range(KEEP_LINES - self.kept_lines):
                cut = self.data.index(b"\n", cut) + 1
            limit, lines = cut - start, KEEP_LINES - self.kept_lines
        if limit > 0:
            self.kept.append(self.data[start : start + limit])
            self.kept_bytes += limit
            self.kept_lines += lines

    def _headers(self, position: int, default: bytes) -> tuple[bytes, bytes | None, int]:
        """The Content-Type of the header block at `position`, and where its body starts."""
        # The first line ending a header block after `position` ends this one too: searched once.
        if self.end_of_headers is None or self.end_of_headers.start() < position:
            self.end_of_headers = _HEADERS_END.search(self.data, position)
        end = self.end_of_headers.start() if self.end_of_headers else len(self.data)
        found = _CONTENT_TYPE.search(self.data, position, end)
        content_type, boundary = _content_type(found.group(1) if found else b"", default)
        body = end
        if self.data.startswith(b"\n", end) or self.data.startswith(b"\r\n", end):
            body = self.data.index(b"\n", end) + 1  # the blank line between headers and body
        self.long_headers = self.long_headers or end - position > HEADERS_MAX
        self._keep(position, end, HEADERS_MAX)
        self._keep(end, body, body - end)
        return content_type, boundary, body

    def _open(self, boundary: bytes | None, *, is_digest: bool) -> bool:
        """Enter a container; False once the tree is deeper than allowed."""
        self.levels.append((boundary, is_digest))
        if boundary is not None:
            self.active.setdefault(boundary, []).append(len(self.levels))
            self.open_boundaries += 1
        self.depth = max(self.depth, len(self.levels))
        return self.depth <= self.max_depth

    def _close_to(self, level: int) -> None:
        while len(self.levels) > level:
            boundary, _ = self.levels.pop()
            if boundary is not None:
                self.active[boundary].pop()
                self.open_boundaries -= 1

    def _next_part(self, position: int, body_limit: int) -> tuple[int, int] | None:
        """Where the next part of an open multipart starts, and that multipart's level; closes the
        multiparts whose closing delimiter comes first. Keeps up to `body_limit` of the body that
        ends there, and the delimiter lines. None: no part follows."""
        search = position
        while self.open_boundaries:
            line = _DELIMITER.search(self.data, search)
            if line is None:
                break
            search = line.end()
            rest = line.group(1).rstrip(b" \t")
            closes = rest.endswith(b"--") and bool(self.active.get(rest[:-2]))
            if not closes and not self.active.get(rest):
                continue  # a line starting with "--" inside a part
            self._keep(position, line.start(), body_limit)
            body_limit = 0  # after a closing delimiter: an epilogue
            position = search = self.data.find(b"\n", line.end()) + 1 or len(self.data)
            self._keep(line.start(), position, position - line.start())
            if closes:
                self._close_to(self.active[rest[:-2]][-1] - 1)
                continue
            level = self.active[rest][-1]
            self._close_to(level)  # the parts inside the previous one end here
            return position, level
        self._keep(position, len(self.data), body_limit)
        return None


def _content_type(value: bytes, default: bytes) -> tuple[bytes, bytes | None]:
    """(type/subtype lower-cased, boundary) of a Content-Type value; `default` when it names none."""
    content_type = value.split(b";", 1)[0].strip().lower()
    if content_type.count(b"/") != 1:
        content_type = default
    if not content_type.startswith(b"multipart/"):
        return content_type, None
    found = _BOUNDARY.search(value)
    if found is None:
        return content_type, None
    return content_type, (found.group(1) if found.group(1) is not None else found.group(2)).rstrip()
