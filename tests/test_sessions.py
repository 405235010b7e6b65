"""Sessions and the logged-in user: Django's database sessions and model backend as they ship (each was
measured against a hand-written read and bought less than its upkeep: bench/README.md), and the
conversion of a hand-written row (loophole.rows) that the conversation lock still uses."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from loophole import rows
from loophole.auth import Backend
from tests.factories import UserFactory
from tickets import services
from tickets.models import Conversation

pytestmark = pytest.mark.django_db


def logged_in(user=None) -> tuple[Client, object]:
    user = user or UserFactory()
    client = Client()
    client.force_login(user)
    return client, user


def is_customer(client: Client) -> bool:
    """Whether the chat sees a logged-in customer (401 otherwise)."""
    return client.get("/chat/tickets/").status_code == 200


def test_a_logged_in_customer_is_recognised():
    client, _user = logged_in()
    assert is_customer(client)


def session_of(client: Client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda client, user: Session.objects.filter(pk=session_of(client).pk).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        ),
        lambda client, user: session_of(client).delete(),
        lambda client, user: client.cookies.__setitem__(settings.SESSION_COOKIE_NAME, "short"),
        lambda client, user: client.cookies.__setitem__(settings.SESSION_COOKIE_NAME, "x" * 40),
        lambda client, user: type(user).objects.filter(pk=user.pk).update(is_active=False),
        lambda client, user: type(user).objects.filter(pk=user.pk).delete(),
        lambda client, user: type(user).objects.filter(pk=user.pk).update(password="changed"),
    ],
    ids=["expired", "deleted", "malformed-key", "unknown-key", "inactive-user", "deleted-user", "password-changed"],
)
def test_a_session_that_no_longer_holds_is_a_logged_out_visitor(spoil):
    client, user = logged_in()
    spoil(client, user)
    response = client.get("/chat/tickets/")
    assert response.status_code == 401


def test_a_row_becomes_the_instance_the_orm_would_make():
    conversation = services.open_conversation(channel="chat", customer=UserFactory(), sender="dana@example.com")
    Conversation.objects.filter(pk=conversation.pk).update(offer={"draft": {"title": "Ça \u2014 «x»"}, "n": 3})
    expected = Conversation.objects.get(pk=conversation.pk)
    from django.db import connection

    with connection.cursor() as cursor:
        table = Conversation._meta.db_table
        cursor.execute(f"SELECT {rows.columns(Conversation)} FROM {table} WHERE id = %s", [conversation.pk])  # noqa: S608
        made = rows.instance(Conversation, cursor.fetchone())
    for field in Conversation._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(expected, field.attname), field.name
    assert made.offer == {"draft": {"title": "Ça \u2014 «x»"}, "n": 3}
    assert made.created_at.tzinfo is not None and not made._state.adding


def test_sessions_and_the_user_read_are_django_s_stock_parts():
    """The session store is Django's own; the backend is ModelBackend under the name sessions record."""
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    assert settings.AUTHENTICATION_BACKENDS == ["loophole.auth.Backend"]
    assert issubclass(Backend, ModelBackend)
    assert {name for name in vars(Backend) if not name.startswith("__")} == set()  # nothing overridden


def test_a_session_logged_in_under_the_backend_s_name_stays_logged_in():
    client, _user = logged_in()
    session = session_of(client).get_decoded()
    assert session["_auth_user_backend"] == "loophole.auth.Backend"
    assert is_customer(client)
