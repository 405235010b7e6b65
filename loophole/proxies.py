"""The client's address behind reverse proxies: settings.TRUSTED_PROXIES says whose X-Forwarded-For counts.

The address is decided once per request, at the ASGI entry (loophole.asgi) or the WSGI entry
(loophole.wsgi), and written into the server's scope or environ: Django's REMOTE_ADDR, so the request
limits and the log-in lock-out (ratelimit.client_ip), and the ASGI server's access log all name the
same client. The server must not rewrite the address itself (uvicorn --no-proxy-headers).
"""

import ipaddress
from collections.abc import Iterable
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# X-Forwarded-For entries read, from the right: one a proxy of the chain. However long the header,
# no more is looked at.
MAX_HOPS = 8
MAX_ENTRY = 64  # characters: an IPv6 address with a zone and a port fits


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDRs, IPv4 or IPv6 ("" for none). Raises ValueError naming a bad one."""
    networks = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an address or a network ({exc})") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address as a proxy writes it (192.0.2.1, 192.0.2.1:443, 2001:db8::1, [2001:db8::1]:443), an
    IPv4-mapped IPv6 address as its IPv4 address; None for anything else."""
    text = text.strip()
    if not text or len(text) > MAX_ENTRY:
        return None
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: str, proxies: tuple[Network, ...]) -> str:
    """The client of a request that came from `peer` with this X-Forwarded-For.

    The peer, unless it is a trusted proxy: then X-Forwarded-For is read from the right, each proxy
    having appended the address it was called from, and the first address not in `proxies` is the
    client. An entry that is not an address ends the walk, as does MAX_HOPS: the last trusted
    address read stands (the header left of it is the client's own to write).
    """
    address = parse_address(peer)
    if address is None or not is_trusted(address, proxies):
        return peer
    for entry in reversed(forwarded_for.rsplit(",", MAX_HOPS)[-MAX_HOPS:]):
        hop = parse_address(entry)
        if hop is None:
            break
        address = hop
        if not is_trusted(address, proxies):
            break
    return str(address)


def set_client(scope: dict[str, Any], proxies: tuple[Network, ...]) -> None:
    """Name the client in an ASGI connection scope, in place (the server logs the scope's client)."""
    client = scope.get("client")
    if not client or not proxies:
        return
    values = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    if not values:
        return
    address = client_address(client[0], b",".join(values).decode("latin-1"), proxies)
    if address != client[0]:
        scope["client"] = (address, 0)


def set_remote_addr(environ: dict[str, Any], proxies: tuple[Network, ...]) -> None:
    """Name the client in a WSGI environ, in place (the WSGI server joins repeated headers with commas)."""
    forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
    peer = environ.get("REMOTE_ADDR")
    if not proxies or not forwarded_for or not peer:
        return
    environ["REMOTE_ADDR"] = client_address(peer, forwarded_for, proxies)
