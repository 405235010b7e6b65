"""Log-in lock-out: repeated failures for an account, or from one IP, pause logging in for a while."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def dana():
    return UserFactory(email="dana@example.com")


@pytest.fixture
def traveller():
    """A clock that starts at the beginning of a lock-out window (counts are per 15-minute window)."""
    start = timezone.now().replace(minute=0, second=1, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False) as clock:
        yield clock


def log_in(username: str, password: str, *, ip: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def test_five_failures_lock_the_account_even_for_the_right_password(dana, traveller, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        failed = log_in("dana@example.com", "wrong password")
        assert failed.status_code == 200 and "correct email" in failed.content.decode().lower()
    locked = log_in("dana@example.com", PASSWORD)
    assert locked.status_code == 429
    assert not logged_in(locked)
    assert "Too many failed log-in attempts" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    # From another address too: the account is locked, not only the address.
    assert log_in("DANA@example.com ", PASSWORD, ip="203.0.113.50").status_code == 429


def test_the_lock_ends_after_the_lockout(dana, traveller, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        log_in("dana@example.com", "wrong password")
    traveller.shift(settings.LOGIN_LOCKOUT_SECONDS - 5)
    assert log_in("dana@example.com", PASSWORD).status_code == 429
    traveller.shift(6)
    assert logged_in(log_in("dana@example.com", PASSWORD))


def test_other_accounts_are_not_affected(dana, traveller, settings):
    other = UserFactory(email="sam@example.com")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT + 2):
        log_in("dana@example.com", "wrong password", ip="198.51.100.7")
    assert logged_in(log_in(other.email, PASSWORD, ip="198.51.100.7"))


def test_a_success_clears_the_accounts_failures(dana, traveller, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT - 1):
        log_in("dana@example.com", "wrong password")
    assert logged_in(log_in("dana@example.com", PASSWORD))
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT - 1):
        log_in("dana@example.com", "wrong password")
    assert logged_in(log_in("dana@example.com", PASSWORD))


def test_one_ip_trying_many_accounts_is_locked(dana, traveller, settings):
    names = [f"someone{i}@example.com" for i in range(settings.LOGIN_FAILURES_PER_IP)]
    for name in names:  # never five on one account
        assert log_in(name, "guess", ip="192.0.2.66").status_code == 200
    locked = log_in("dana@example.com", PASSWORD, ip="192.0.2.66")
    assert locked.status_code == 429 and not logged_in(locked)
    # The account itself is fine from anywhere else.
    assert logged_in(log_in("dana@example.com", PASSWORD, ip="192.0.2.67"))


def test_ipv6_clients_count_by_their_64_network(dana, traveller, settings):
    for i in range(settings.LOGIN_FAILURES_PER_IP):
        log_in(f"someone{i}@example.com", "guess", ip=f"2001:db8:1:2::{i + 1:x}")
    assert log_in("dana@example.com", PASSWORD, ip="2001:db8:1:2::ffff").status_code == 429
    assert logged_in(log_in("dana@example.com", PASSWORD, ip="2001:db8:1:3::1"))


def test_the_admin_log_in_has_the_same_lock_out(traveller, settings):
    staff = StaffFactory(email="agent@loophole.localhost")
    client = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        client.post("/admin/login/", {"username": staff.email, "password": "wrong"})
    locked = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert locked.status_code == 200 and "Too many failed log-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_look_alike_identifier_that_the_database_takes_for_the_account_counts_against_it(
    requires_postgres, traveller, settings
):
    UserFactory(email="iris@example.com")
    look_alike = "\u0131ris@example.com"  # dotless i: UPPER() makes it IRIS@EXAMPLE.COM, as the log-in does
    assert log_in(look_alike, PASSWORD).status_code == 302  # the database takes it for iris's account
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        assert log_in(look_alike, "wrong password", ip="203.0.113.60").status_code == 200
    assert log_in("iris@example.com", PASSWORD, ip="203.0.113.61").status_code == 429


def test_an_operator_unlocks_an_account_or_an_ip(dana, traveller, settings):
    from django.core.management import call_command

    for _ in range(settings.LOGIN_FAILURES_PER_IP):
        log_in(f"nobody{_}@example.com", "wrong password")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        log_in("dana@example.com", "wrong password", ip="203.0.113.70")
    assert log_in("dana@example.com", PASSWORD, ip="203.0.113.71").status_code == 429
    assert log_in("someone@example.com", PASSWORD).status_code == 429  # the IP is locked too

    call_command("unlock_login", "--account", " DANA@example.com")
    assert logged_in(log_in("dana@example.com", PASSWORD, ip="203.0.113.71"))
    assert log_in("dana@example.com", PASSWORD).status_code == 429  # from the locked IP: still locked
    call_command("unlock_login", "--ip", "198.51.100.7")
    assert logged_in(log_in("dana@example.com", PASSWORD))


def test_unlock_needs_something_to_unlock():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="say what to unlock"):
        call_command("unlock_login")
