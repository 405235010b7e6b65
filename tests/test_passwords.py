"""Password reset by a mailed link, and password change: Django's views, our mail, our limits."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
RESET = "/accounts/password_reset/"
CHANGE = "/accounts/password_change/"
NEW_PASSWORD = "plum-orbit-candle-91"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/accounts/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def dana():
    return UserFactory(email="dana@example.com")


def reset_path(message) -> str:
    (path,) = set(LINK.findall(message.body))
    assert f"http://127.0.0.1:8000{path}" in message.alternatives[0][0]
    return path


def set_password(client: Client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    """Follow a reset link and submit the form it leads to; the form page's response when the link is bad."""
    opened = client.get(path)
    if opened.status_code != 302:
        return opened
    data = {"new_password1": password, "new_password2": password if confirm is None else confirm}
    return client.post(opened["Location"], data)


def test_a_reset_link_sets_a_new_password_once(browser, dana):
    client = browser()
    requested = client.post(RESET, {"email": " DANA@example.com"})
    assert requested.status_code == 302 and requested["Location"] == "/accounts/password_reset/done/"
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"] and message.subject == "Reset your Loophole support password"
    assert "support@loophole.localhost" in message.from_email
    path = reset_path(message)
    done = set_password(client, path)
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert "Log in" in client.get(done["Location"]).content.decode()
    assert Client().login(username="dana@example.com", password=NEW_PASSWORD)
    assert not Client().login(username="dana@example.com", password=PASSWORD)
    again = set_password(browser(), path, password="another-" + NEW_PASSWORD)
    assert again.status_code == 200 and "This link is not valid" in again.content.decode()
    assert Client().login(username="dana@example.com", password=NEW_PASSWORD)


def test_a_reset_answers_an_unknown_address_the_same_and_mails_nothing(browser, dana):
    known = browser().post(RESET, {"email": "dana@example.com"})
    unknown = browser().post(RESET, {"email": "nobody@example.com"})
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [m.to for m in mail.outbox] == [["dana@example.com"]]


def test_a_reset_verifies_an_unverified_address(browser):
    UserFactory(email="nora@example.com", email_verified_at=None)
    client = browser()
    client.post(RESET, {"email": "nora@example.com"})
    assert set_password(client, reset_path(mail.outbox[0])).status_code == 302
    assert User.objects.get().email_verified_at is not None


def test_a_reset_ends_the_accounts_other_sessions(browser, dana):
    elsewhere = Client()
    elsewhere.force_login(dana)
    client = browser()
    client.post(RESET, {"email": "dana@example.com"})
    set_password(client, reset_path(mail.outbox[0]))
    assert elsewhere.get("/chat/tickets/").status_code == 401


def _bad(path: str, how: str) -> str:
    _, _, _, uid, token, _ = path.split("/")
    if how == "token":
        return f"/accounts/reset/{uid}/{token[:-1]}{'0' if token[-1] != '0' else '1'}/"
    if how == "uid":
        return f"/accounts/reset/{'MTIzNDU2'}/{token}/"
    if how == "made-up":
        return "/accounts/reset/MQ/set-password/"
    return f"/accounts/reset/{uid}/garbage/"


@pytest.mark.parametrize("how", ["token", "uid", "made-up", "garbage"])
def test_a_bad_reset_link_changes_nothing(browser, dana, how):
    browser().post(RESET, {"email": "dana@example.com"})
    client = browser()
    response = set_password(client, _bad(reset_path(mail.outbox[0]), how))
    assert response.status_code == 200 and "This link is not valid" in response.content.decode()
    posted = client.post(_bad(reset_path(mail.outbox[0]), how), {"new_password1": "x1-" + NEW_PASSWORD})
    assert posted.status_code == 200
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD)


def test_a_reset_link_expires(browser, dana, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        browser().post(RESET, {"email": "dana@example.com"})
        clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
        response = set_password(browser(), reset_path(mail.outbox[0]))
    assert "This link is not valid" in response.content.decode()
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "confirm"),
    [("short", "short"), ("password123", "password123"), (NEW_PASSWORD, NEW_PASSWORD + "x")],
    ids=["short", "common", "mismatched"],
)
def test_a_weak_or_mismatched_new_password_is_refused(browser, dana, password, confirm):
    client = browser()
    client.post(RESET, {"email": "dana@example.com"})
    response = set_password(client, reset_path(mail.outbox[0]), password, confirm)
    assert response.status_code == 200 and response.context["form"].errors
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD)


def test_resets_are_limited_per_address(browser, dana, settings, hour):
    settings.ACCOUNT_MAIL_PER_ADDRESS = 2
    answers = [browser(f"198.51.100.{i}").post(RESET, {"email": "Dana@example.com"}) for i in range(1, 4)]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Too many requests for this address" in answers[-1].content.decode()
    assert int(answers[-1]["Retry-After"]) > 0
    assert len(mail.outbox) == 2
    # An unknown address is limited alike.
    unknown = [browser(f"203.0.113.{i}").post(RESET, {"email": "nobody@example.com"}) for i in range(1, 4)]
    assert [a.status_code for a in unknown] == [302, 302, 429]


def test_resets_are_limited_per_ip(browser, dana, settings, hour):
    settings.ACCOUNT_MAIL_PER_IP = 3
    answers = [browser("192.0.2.66").post(RESET, {"email": f"someone{i}@example.com"}) for i in range(3)]
    assert [a.status_code for a in answers] == [302, 302, 302]
    assert browser("192.0.2.66").post(RESET, {"email": "dana@example.com"}).status_code == 429
    assert not mail.outbox
    assert browser("192.0.2.67").post(RESET, {"email": "dana@example.com"}).status_code == 302
    assert len(mail.outbox) == 1


def test_changing_the_password_needs_the_old_one_and_ends_other_sessions(dana):
    here, elsewhere = Client(), Client()
    assert here.login(username="dana@example.com", password=PASSWORD)
    assert elsewhere.login(username="dana@example.com", password=PASSWORD)
    wrong = here.post(CHANGE, {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD)
    assert elsewhere.get("/chat/tickets/").status_code == 200

    changed = here.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert changed.status_code == 302 and changed["Location"] == "/accounts/password_change/done/"
    dana.refresh_from_db()
    assert dana.check_password(NEW_PASSWORD)
    assert here.get("/chat/tickets/").status_code == 200  # this session stays (update_session_auth_hash)
    assert elsewhere.get("/chat/tickets/").status_code == 401  # every other one is logged out
    assert "Log in" in elsewhere.get("/").content.decode()


@pytest.mark.parametrize(
    ("new1", "new2"),
    [("short", "short"), ("password123", "password123"), (NEW_PASSWORD, NEW_PASSWORD + "x"), ("", "")],
    ids=["short", "common", "mismatched", "empty"],
)
def test_a_weak_or_mismatched_change_is_refused(dana, new1, new2):
    client = Client()
    client.force_login(dana)
    response = client.post(CHANGE, {"old_password": PASSWORD, "new_password1": new1, "new_password2": new2})
    assert response.status_code == 200 and response.context["form"].errors
    dana.refresh_from_db()
    assert dana.check_password(PASSWORD)


def test_changing_the_password_needs_a_login():
    response = Client().get(CHANGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_pages_link_to_each_other(dana):
    login_page = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in login_page
    client = Client()
    client.force_login(dana)
    assert 'href="/accounts/password_change/"' in client.get("/").content.decode()
