"""Sessions and the logged-in user, read by hand-written statements: they behave as Django's own."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from loophole import rows
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
        cursor.execute(f"{rows.select(Conversation)} WHERE id = %s", [conversation.pk])
        made = rows.instance(Conversation, cursor.fetchone())
    for field in Conversation._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(expected, field.attname), field.name
    assert made.offer == {"draft": {"title": "Ça \u2014 «x»"}, "n": 3}
    assert made.created_at.tzinfo is not None and not made._state.adding
