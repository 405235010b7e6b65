"""Whether an inbound mail's From address is vouched for: SPF, DKIM or DMARC passed for its domain.

The From header alone proves nothing: anyone can write any address there. A mail is tied to an
account only when a receiver we trust says that a check passed for a domain aligned with the From
address's domain:

- Postmark's webhook: its own Received-SPF header (SPF pass for the envelope sender's domain) or its
  SpamAssassin X-Spam-Tests header with DKIM_VALID_AU (a valid DKIM signature of the author's
  domain). A header of either name that appears twice is ignored: one of the two came with the mail.
- `receive_email` behind our own mail server: the topmost Authentication-Results header (RFC 8601)
  whose authserv-id is one of settings.EMAIL_AUTHSERV_IDS (dmarc=pass header.from, dkim=pass
  header.d, spf=pass smtp.mailfrom). A server adds its header on top; one further down may be a
  forgery that came with the mail.

Each reader returns the domains a check passed for; `aligned` compares them with the sender's.
Every step is a bounded split or scan: header values are cut to MAX_VALUE characters first.
"""

from collections.abc import Iterable, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.conf import settings

MAX_VALUE = 4096  # characters of one header value looked at
MAX_HEADERS = 20  # headers of one name looked at
MAX_HEAD = 256 * 1024  # bytes of a raw message's header block read for Authentication-Results


def aligned(sender: str, domains: Iterable[str]) -> bool:
    """True when the sender's domain is one of `domains`, or a subdomain of one, or its parent
    (DMARC's relaxed alignment, without a public-suffix list: a bare suffix never counts)."""
    own = sender.rpartition("@")[2].lower().rstrip(".")
    if not own:
        return False
    for domain in domains:
        domain = domain.lower().strip().rstrip(".")
        if "." not in domain or "." not in own:
            continue
        if own == domain or own.endswith("." + domain) or domain.endswith("." + own):
            return True
    return False


def _domain(value: str) -> str:
    """The domain of `user@domain`, `@domain` or `domain`, without angle brackets or quotes."""
    value = value.strip().strip("<>\"'")
    return value.rpartition("@")[2].strip().lower()


def postmark_domains(esp_event: Any) -> list[str]:
    """The domains Postmark's own headers vouch for, from its inbound JSON (`Headers`: a list of
    {"Name", "Value"}; the first, a Return-Path, is Postmark's and is skipped)."""
    headers = esp_event.get("Headers") if isinstance(esp_event, dict) else None
    if not isinstance(headers, list):
        return []
    found: dict[str, list[str]] = {"received-spf": [], "x-spam-tests": []}
    for header in headers[1:]:
        if not isinstance(header, dict):
            continue
        name, value = header.get("Name"), header.get("Value")
        if isinstance(name, str) and isinstance(value, str) and name.lower() in found:
            found[name.lower()].append(value[:MAX_VALUE])
    domains = []
    if len(found["received-spf"]) == 1:
        spf = found["received-spf"][0]
        if spf.lstrip().lower().startswith("pass"):
            envelope_from = _received_spf_key(spf, "envelope-from")
            if envelope_from:
                domains.append(_domain(envelope_from))
    if len(found["x-spam-tests"]) == 1:
        tests = {token.strip().upper() for token in found["x-spam-tests"][0].split(",")}
        if "DKIM_VALID_AU" in tests:
            sender = esp_event.get("FromFull", {}).get("Email") if isinstance(esp_event.get("FromFull"), dict) else None
            if isinstance(sender, str) and sender:
                domains.append(_domain(sender))
    return [domain for domain in domains if domain]


def _received_spf_key(value: str, key: str) -> str:
    """One key=value of a Received-SPF header (RFC 7208 9.1), "" when absent."""
    for part in _without_comments(value).replace(";", " ").split():
        name, sep, found = part.partition("=")
        if sep and name.lower() == key:
            return found.strip('"')
    return ""


def mta_domains(raw: bytes, trusted: Sequence[str] | None = None) -> list[str]:
    """The domains the topmost Authentication-Results header of a trusted authserv-id vouches for."""
    trusted_ids = {name.lower() for name in (settings.EMAIL_AUTHSERV_IDS if trusted is None else trusted)}
    if not trusted_ids:
        return []
    end = raw.find(b"\n\n", 0, MAX_HEAD)
    end_crlf = raw.find(b"\r\n\r\n", 0, MAX_HEAD)
    ends = [position for position in (end, end_crlf) if position >= 0]
    head = raw[: min(ends) if ends else MAX_HEAD]
    message = BytesHeaderParser(policy=compat32).parsebytes(head)
    for value in (message.get_all("Authentication-Results") or [])[:MAX_HEADERS]:
        authserv_id, results = _authentication_results(str(value)[:MAX_VALUE])
        if authserv_id in trusted_ids:
            return results
    return []


def _authentication_results(value: str) -> tuple[str, list[str]]:
    """(authserv-id, the domains whose dmarc, dkim or spf result is pass) of one header value."""
    parts = _without_comments(value).split(";")
    head = parts[0].split()
    authserv_id = head[0].lower() if head else ""
    domains = []
    for resinfo in parts[1:]:
        tokens = resinfo.split()
        if not tokens:
            continue
        method, _, result = tokens[0].partition("=")
        method = method.split("/", 1)[0].lower()
        if result.lower() != "pass":
            continue
        properties = {}
        for token in tokens[1:]:
            name, sep, found = token.partition("=")
            if sep:
                properties[name.lower()] = found.strip('"')
        wanted = {"dmarc": "header.from", "dkim": "header.d", "spf": "smtp.mailfrom"}.get(method)
        if wanted and properties.get(wanted):
            domains.append(_domain(properties[wanted]))
    return authserv_id, [domain for domain in domains if domain]


def _without_comments(value: str) -> str:
    """`value` with its (comments) removed, nested ones too, in one pass (RFC 5322 CFWS)."""
    kept = []
    depth = 0
    escaped = False
    for char in value:
        if depth:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            continue
        if char == "(":
            depth = 1
        else:
            kept.append(char)
    return "".join(kept)
