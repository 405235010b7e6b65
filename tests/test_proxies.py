"""Who the client is behind reverse proxies: X-Forwarded-For counts only from TRUSTED_PROXIES, read from
the right, bounded, and malformed entries end the walk."""

import json
import os
import subprocess
import sys
import time
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_started
from django.db import close_old_connections

from loophole.proxies import MAX_HOPS, client_address, parse_address, parse_networks, set_client
from loophole.wsgi import application
from tests.conftest import ROOT
from tests.environment import PRODUCT_VARIABLES
from tests.test_deploy import production_env

PROXY = parse_networks("10.0.0.2")
CHAIN = parse_networks("10.0.0.0/24, 2001:db8:1::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "client"),
    [
        ("203.0.113.9", "127.0.0.1", PROXY, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", (), "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", (), "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", PROXY, "198.51.100.1"),
        ("10.0.0.2", "127.0.0.1, 198.51.100.1", PROXY, "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.2", PROXY, "198.51.100.1"),
        ("10.0.0.3", "198.51.100.1", PROXY, "10.0.0.3"),
        ("10.0.0.5", "203.0.113.50, 198.51.100.1, 10.0.0.7, 10.0.0.6", CHAIN, "198.51.100.1"),
        ("10.0.0.5", "10.0.0.9, 10.0.0.7", CHAIN, "10.0.0.9"),
        ("10.0.0.2", "", PROXY, "10.0.0.2"),
        ("10.0.0.2", "  198.51.100.1  ", PROXY, "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1:4711", PROXY, "198.51.100.1"),
        ("10.0.0.2", "[2001:db8:9::1]:4711", PROXY, "2001:db8:9::1"),
        ("10.0.0.2", "2001:DB8:9:0::1", PROXY, "2001:db8:9::1"),
        ("10.0.0.2", "::ffff:198.51.100.1", PROXY, "198.51.100.1"),
        ("2001:db8:1::5", "198.51.100.1, 2001:db8:1::6", CHAIN, "198.51.100.1"),
        ("2001:db8:2::5", "198.51.100.1", CHAIN, "2001:db8:2::5"),
        ("::ffff:10.0.0.2", "198.51.100.1", PROXY, "198.51.100.1"),
    ],
    ids=[
        "untrusted-peer-spoofs-loopback",
        "no-proxies-configured",
        "no-proxies-configured-proxy-address",
        "trusted-proxy",
        "client-prepends-a-lie",
        "proxy-appended-itself",
        "neighbour-of-the-proxy-untrusted",
        "chain-of-proxies",
        "all-trusted-takes-the-farthest",
        "empty-header",
        "spaces",
        "ipv4-with-port",
        "ipv6-bracketed-with-port",
        "ipv6-normalised",
        "ipv4-mapped-ipv6",
        "ipv6-proxy",
        "ipv6-peer-outside",
        "ipv4-mapped-peer",
    ],
)
def test_the_client_is_the_first_untrusted_address_from_the_right(peer, forwarded_for, proxies, client):
    assert client_address(peer, forwarded_for, proxies) == client


@pytest.mark.parametrize(
    "forwarded_for",
    ["198.51.100.1, unknown", "198.51.100.1, ", "198.51.100.1,,", "198.51.100.1, 999.1.1.1", "198.51.100.1, [::1",
     "198.51.100.1, 1.2.3.4:http", "198.51.100.1, _hidden", "198.51.100.1, " + "1" * 100, "198.51.100.1, \x00"],
    ids=["word", "empty-entry", "empty-entries", "octet", "bracket", "port", "obfuscated", "long", "nul"],
)  # fmt: skip
def test_a_malformed_entry_ends_the_walk_at_the_last_trusted_address(forwarded_for):
    assert client_address("10.0.0.2", forwarded_for, PROXY) == "10.0.0.2"
    assert client_address("10.0.0.5", forwarded_for + ", 10.0.0.7", CHAIN) == "10.0.0.7"


def test_a_long_header_is_read_only_as_far_as_max_hops():
    trusted_hops = ", ".join(f"10.0.0.{i}" for i in range(10, 10 + MAX_HOPS))
    assert client_address("10.0.0.5", f"198.51.100.1, {trusted_hops}", CHAIN) == "10.0.0.10"
    near = ", ".join(f"10.0.0.{i}" for i in range(10, 10 + MAX_HOPS - 1))
    assert client_address("10.0.0.5", f"198.51.100.1, {near}", CHAIN) == "198.51.100.1"
    huge = "203.0.113.7, " * 200_000 + "198.51.100.1"  # 2.6 MB
    started = time.perf_counter()
    assert client_address("10.0.0.2", huge, PROXY) == "198.51.100.1"
    assert client_address("10.0.0.5", huge + ", " + trusted_hops, CHAIN) == "10.0.0.10"
    assert time.perf_counter() - started < 0.5


def test_the_scope_names_the_client_once_and_the_proxys_headers_are_read_in_order():
    scope = {
        "type": "http",
        "client": ("10.0.0.2", 50000),
        "headers": [(b"x-forwarded-for", b"127.0.0.1"), (b"host", b"x"), (b"x-forwarded-for", b"198.51.100.1")],
    }
    set_client(scope, PROXY)
    assert scope["client"] == ("198.51.100.1", 0)
    untrusted = {"type": "http", "client": ("203.0.113.9", 50000), "headers": [(b"x-forwarded-for", b"127.0.0.1")]}
    set_client(untrusted, PROXY)
    assert untrusted["client"] == ("203.0.113.9", 50000)
    unconfigured = {"type": "http", "client": ("10.0.0.2", 50000), "headers": [(b"x-forwarded-for", b"127.0.0.1")]}
    set_client(unconfigured, ())
    assert unconfigured["client"] == ("10.0.0.2", 50000)
    for scope in ({"type": "http", "client": None, "headers": []}, {"type": "lifespan"}):
        before = dict(scope)
        set_client(scope, PROXY)  # a Unix socket has no client address; lifespan no client at all
        assert scope == before


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        ("10.0.0.2", "198.51.100.1", "10.0.0.2", "198.51.100.1"),
        ("10.0.0.2", "127.0.0.1, 198.51.100.1", "10.0.0.2", "198.51.100.1"),
        ("203.0.113.9", "127.0.0.1", "10.0.0.2", "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", "", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, unknown", "10.0.0.2", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2", "10.0.0.2"),
    ],
    ids=["trusted-proxy", "client-prepends-a-lie", "untrusted-peer-spoofs-loopback", "no-proxies-configured",
         "malformed-entry", "no-header"],
)  # fmt: skip
@pytest.mark.django_db
def test_the_wsgi_application_names_the_client_as_the_asgi_one_does(settings, peer, forwarded_for, trusted, client):
    settings.TRUSTED_PROXIES = parse_networks(trusted)
    environ = {"PATH_INFO": "/healthz", "REMOTE_ADDR": peer}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    setup_testing_defaults(environ)
    seen: list[str] = []

    def record(sender, environ, **kwargs):
        seen.append(environ["REMOTE_ADDR"])

    request_started.connect(record)
    # As Django's test client does: the test's transaction keeps its connection through the request.
    request_started.disconnect(close_old_connections)
    try:
        statuses: list[str] = []
        body = b"".join(application(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    finally:
        request_started.disconnect(record)
        request_started.connect(close_old_connections)
    assert statuses == ["200 OK"], body[:200]
    assert seen == [client]


@pytest.mark.parametrize(
    ("text", "address"),
    [("192.0.2.1", "192.0.2.1"), ("192.0.2.1:80", "192.0.2.1"), ("[::1]", "::1"), ("[::1]:80", "::1"),
     ("::1", "::1"), ("[::1]x", None), ("192.0.2.1:", None), ("192.0.2.1:80:80", None), ("[]", None),
     ("unix:/run/app.sock", None), ("", None)],
)  # fmt: skip
def test_addresses_as_proxies_write_them(text, address):
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == address


def test_the_setting_takes_addresses_and_networks_of_both_families():
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks(" 10.0.0.2 ,172.16.0.0/12,, 2001:db8::/32, ::1")] == [
        "10.0.0.2/32",
        "172.16.0.0/12",
        "2001:db8::/32",
        "::1/128",
    ]


@pytest.mark.parametrize(
    "value",
    ["proxy.internal", "10.0.0.0/33", "10.0.0.1/24", "10.0.0", "*"],
    ids=["name", "prefix", "host-bits", "short", "any"],
)
def test_a_bad_setting_names_the_bad_item(value):
    with pytest.raises(ValueError, match="is not an address or a network"):
        parse_networks(f"10.0.0.2, {value}")


PROBE = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    "print(json.dumps({'proxies': [str(n) for n in s.TRUSTED_PROXIES], 'exempt': sorted(s.RATE_LIMIT_EXEMPT_IPS)}))"
)


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def development_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    return {**env, "DJANGO_SETTINGS_MODULE": "loophole.settings", **changes}


def test_trusted_proxies_default_to_none_and_loopback_is_exempt_only_with_debug_on():
    development = load_settings(development_env())
    assert development.returncode == 0, development.stderr
    assert json.loads(development.stdout) == {"proxies": [], "exempt": ["127.0.0.1", "::1"]}
    production = load_settings(production_env(TRUSTED_PROXIES="10.0.0.2,fd00::/8"))
    assert production.returncode == 0, production.stderr
    assert json.loads(production.stdout) == {"proxies": ["10.0.0.2/32", "fd00::/8"], "exempt": []}


def test_a_bad_trusted_proxies_value_stops_start_up_naming_it():
    result = load_settings(development_env(TRUSTED_PROXIES="10.0.0.2, proxy.internal"))
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "TRUSTED_PROXIES" in last and "'proxy.internal'" in last
