"""Receivers of tickets' and accounts' signals: they only poke, notify or enqueue, never block."""

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from channels_io import push, registry
from channels_io.chat import away
from channels_io.chat.leases import session_digest
from channels_io.chat.stream import message_json
from channels_io.delivery import deliver
from loophole.celery import enqueue_on_commit
from tickets import signals


@receiver(signals.message_stored)
def poke_on_message(
    sender: Any, conversation_id: int, message_id: int, message: Any, previous_id: int, state: str, **kwargs: Any
) -> None:
    push.poke(conversation_id, push.news_of(message_json(message), previous_id, state))


@receiver(signals.ticket_changed)
def poke_on_ticket(sender: Any, ticket_id: int, conversation_id: int, **kwargs: Any) -> None:
    push.poke(conversation_id)
    push.poke_desk(ticket_id)


@receiver(signals.staff_replied)
def deliver_staff_reply(sender: Any, message_id: int, channel: str, **kwargs: Any) -> None:
    if registry.get(channel).sender is not None:  # a chat reply reaches the widget by the push alone
        enqueue_on_commit(deliver, message_id)
    elif channel == away.CHANNEL and settings.CHAT_AWAY_EMAIL_AFTER == 0:
        enqueue_on_commit(away.claim_away_reply, message_id)  # else the beat sweeper claims it when due


@receiver(user_logged_out)
def end_streams_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The session's streams end at once (sent before the session is deleted: named, not re-read)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        push.notify(user.pk, {"notice": "logout", "about": [session_digest(session_key)]})


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def check_streams_on_account_change(
    sender: Any, instance: Any, created: bool, raw: bool, update_fields: Any, **kwargs: Any
) -> None:
    """A new password or a deactivation: the customer's streams re-check their sessions once it is committed."""
    if created or raw or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return
    transaction.on_commit(partial(push.notify, instance.pk, {"notice": "check", "about": []}), robust=True)
