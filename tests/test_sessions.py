"""Sessions and the logged-in user, read by hand-written statements: they behave as Django's own, on
the sync and the async path alike, and what they rely on from Django is pinned here."""

import inspect
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import aget_user as django_aget_user
from django.contrib.auth import get_user as django_get_user
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loophole import rows
from loophole.auth import Backend
from loophole.sessions import SessionStore
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


def stored(data: dict) -> str:
    """The key of a saved session holding `data`."""
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def read(key: str | None, path: str) -> tuple[SessionStore, dict]:
    """A store of this key and its data, loaded by Django's sync (`get`) or async (`aget`) path."""
    store = SessionStore(key)
    if path == "sync":
        store.get("n")
    else:
        async_to_sync(store.aget)("n")
    return store, dict(store.items())


PATHS = pytest.mark.parametrize("path", ["sync", "async"])


@PATHS
def test_both_paths_read_the_session_with_the_one_hand_written_statement(path):
    key = stored({"n": 1})
    with CaptureQueriesContext(connection) as queries:
        store, data = read(key, path)
    assert data == {"n": 1} and store.session_key == key
    assert len(queries) == 1
    assert queries[0]["sql"].startswith(rows.select(Session))  # ours, not the ORM's


def expire(key: str) -> None:
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))


def corrupt(key: str) -> None:
    Session.objects.filter(session_key=key).update(session_data="not signed:at all")


@PATHS
@pytest.mark.parametrize(
    ("spoil", "key_kept", "statements"),
    [
        (expire, False, 1),
        (lambda key: Session.objects.filter(session_key=key).delete(), False, 1),
        (corrupt, True, 1),
    ],
    ids=["expired", "deleted", "corrupted-data"],
)
def test_a_session_that_does_not_hold_reads_as_empty_on_both_paths(path, spoil, key_kept, statements):
    key = stored({"n": 1})
    spoil(key)
    with CaptureQueriesContext(connection) as queries:
        store, data = read(key, path)
    assert data == {}
    assert store.session_key == (key if key_kept else None)  # an expired or unknown key is forgotten
    assert len(queries) == statements and queries[0]["sql"].startswith(rows.select(Session))


@PATHS
@pytest.mark.parametrize("key", [None, "", "short", "x" * 7], ids=["none", "empty", "short", "seven"])
def test_a_malformed_key_reads_as_empty_without_a_statement(path, key):
    with CaptureQueriesContext(connection) as queries:
        store, data = read(key, path)
    assert (data, store.session_key, len(queries)) == ({}, None, 0)


@PATHS
def test_both_paths_read_the_logged_in_user_with_the_one_hand_written_statement(path):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    request = HttpRequest()
    request.session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    with CaptureQueriesContext(connection) as queries:
        found = django_get_user(request) if path == "sync" else async_to_sync(django_aget_user)(request)
    assert found == user
    assert len(queries) == 2  # the session, the user
    assert queries[1]["sql"].startswith(rows.select(type(user)))  # ours, not the ORM's


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_store_overrides_only_django_s_public_load_and_aload():
    """Django calls `load` / `aload` when a session is first read (SessionBase._get_session /
    _aget_session): public methods taking no argument, `aload` a coroutine function. Nothing private
    of Django's store is overridden, so an upgrade that reworks its internals cannot skip this store."""
    for cls in (SessionBase, db.SessionStore, SessionStore):
        assert _parameters(cls.load) == ["self"] and _parameters(cls.aload) == ["self"], cls
        assert inspect.iscoroutinefunction(cls.aload), cls
    assert {"load", "aload"} <= set(vars(SessionStore))
    private = {name for name in vars(SessionStore) if name.startswith("_") and not name.startswith("__")}
    assert private & {name for cls in db.SessionStore.__mro__ for name in vars(cls)} == set()
    assert _parameters(Backend.get_user) == _parameters(Backend.aget_user) == ["self", "user_id"]
    assert inspect.iscoroutinefunction(Backend.aget_user)


def test_what_the_store_relies_on_from_django_holds():
    store = SessionStore("k" * 32)
    assert store.session_key == "k" * 32
    store._session_key = None  # the store forgets a key that does not hold, as Django's does
    assert store.session_key is None
    assert SessionStore("short").session_key is None  # Django validates a key on assignment (8 or more)
    assert store.decode(store.encode({"n": 1})) == {"n": 1}
    assert store.decode("not signed:at all") == {} and store.decode("") == {}  # no exception on bad data
