"""A conversation's states: every allowed and every refused move, through the one function that moves them."""

import itertools

import pytest
from django.db import transaction

from tests.factories import ConversationFactory, make_ticket
from tickets import conversations, services
from tickets.models import CONVERSATION_TRANSITIONS, Conversation, ConversationState, InvalidTransition, Ticket

pytestmark = pytest.mark.django_db

S = ConversationState
ALLOWED = {
    (S.ASSISTANT, S.TICKET_OFFERED),  # the assistant offers a ticket
    (S.ASSISTANT, S.HANDED_OFF),  # a ticket opened from it on live chat
    (S.ASSISTANT, S.CLOSED),  # the call ended
    (S.TICKET_OFFERED, S.ASSISTANT),  # declined, or anything but a yes
    (S.TICKET_OFFERED, S.TICKET_OFFERED),  # a newer offer replaces the pending one
    (S.TICKET_OFFERED, S.HANDED_OFF),  # accepted on live chat
    (S.TICKET_OFFERED, S.CLOSED),
    (S.HANDED_OFF, S.CLOSED),
}
ALL_PAIRS = list(itertools.product(S, S))
OFFER = {"offer_message_id": 1, "reason": "refund", "draft": {"title": "Refund", "description": "Charged twice."}}


def conversation_in(state: ConversationState) -> Conversation:
    """A chat conversation brought into `state` the way the product gets there."""
    if state == S.HANDED_OFF:
        return make_ticket().conversation
    conversation = ConversationFactory()
    if state == S.TICKET_OFFERED:
        move(conversation.pk, S.TICKET_OFFERED, offer=OFFER)
    elif state == S.CLOSED:
        assert conversations.close(conversation.pk)
    conversation.refresh_from_db()
    assert conversation.state == state
    return conversation


def move(conversation_id: int, new: ConversationState, *, offer: dict | None = None) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        conversations.move(conversation, new, offer=offer)
    return conversation


def stored(conversation: Conversation) -> tuple[str, dict | None]:
    return tuple(Conversation.objects.values_list("state", "offer").get(pk=conversation.pk))


def test_the_conversation_table_is_exactly_the_products():
    assert {(old, new) for old, targets in CONVERSATION_TRANSITIONS.items() for new in targets} == ALLOWED


@pytest.mark.parametrize(("old", "new"), [p for p in ALL_PAIRS if p in ALLOWED], ids=lambda s: s.value)
def test_allowed_move_is_saved_with_its_offer(old, new):
    conversation = conversation_in(old)
    offer = {**OFFER, "offer_message_id": 2} if new == S.TICKET_OFFERED else None

    moved = move(conversation.pk, new, offer=offer)

    assert (moved.state, moved.offer) == (new, offer)
    assert stored(conversation) == (new, offer)  # a state without an offer drops the pending one


@pytest.mark.parametrize(("old", "new"), [p for p in ALL_PAIRS if p not in ALLOWED], ids=lambda s: s.value)
def test_refused_move_raises_a_clear_error_and_changes_nothing(old, new):
    conversation = conversation_in(old)
    before = stored(conversation)

    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        with pytest.raises(InvalidTransition, match=rf"{old.label} -> {new.label} is not allowed"):
            conversations.move(locked, new, offer=OFFER if new == S.TICKET_OFFERED else None)
        assert (locked.state, locked.offer) == before  # not even in memory

    assert stored(conversation) == before


@pytest.mark.parametrize(
    ("new", "offer"),
    [(S.TICKET_OFFERED, None), (S.ASSISTANT, OFFER), (S.CLOSED, OFFER)],
    ids=["offer-without-its-draft", "offer-kept-on-decline", "offer-kept-on-close"],
)
def test_an_offer_goes_with_the_offered_state_and_only_with_it(new, offer):
    conversation = conversation_in(S.TICKET_OFFERED)

    with pytest.raises(InvalidTransition, match="offer"):
        move(conversation.pk, new, offer=offer)

    assert stored(conversation) == (S.TICKET_OFFERED, OFFER)


def test_closing_is_done_once_and_refuses_a_gone_conversation():
    conversation = conversation_in(S.HANDED_OFF)
    assert conversations.close(conversation.pk) is True
    assert conversations.close(conversation.pk) is False
    assert stored(conversation) == (S.CLOSED, None)
    with pytest.raises(Conversation.DoesNotExist):
        conversations.close(10**9)


def test_a_ticket_hands_a_chat_off_and_leaves_other_channels_with_the_assistant():
    chat, sms = conversation_in(S.TICKET_OFFERED), ConversationFactory(channel="sms")
    move(sms.pk, S.TICKET_OFFERED, offer=OFFER)
    for conversation, hand_off in ((chat, True), (sms, False)):
        services.store_customer_message(conversation.pk, "I was charged twice.")
        services.create_ticket(conversation.pk, title="Refund", description="Charged twice.", hand_off=hand_off)
    assert stored(chat) == (S.HANDED_OFF, None)
    assert stored(sms) == (S.ASSISTANT, None)


def test_a_closed_conversation_takes_no_ticket_and_nothing_is_written():
    conversation = conversation_in(S.CLOSED)
    services.store_customer_message(conversation.pk, "I was charged twice.")

    with pytest.raises(InvalidTransition, match="Closed -> Handed off to staff is not allowed"):
        services.create_ticket(conversation.pk, title="Refund", description="Charged twice.")

    assert not Ticket.objects.filter(conversation=conversation).exists()
    assert stored(conversation) == (S.CLOSED, None)
