"""Internal notes on a ticket: kept for staff on the ticket page, never sent or shown to the customer."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.utils import timezone

from assistant import tools
from channels_io.sms import backends
from loophole.models import PhoneNumber
from tests.channels_io.sms import twilio_helpers
from tests.channels_io.sms.twilio_helpers import CUSTOMER_NUMBER, payload, post
from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.tickets.helpers import ticket_change_url
from tickets import selectors, services, signals
from tickets.models import Conversation, Message, Status, Ticket, TicketNote

pytestmark = pytest.mark.django_db

twilio = twilio_helpers.twilio  # Twilio configured, texts to the locmem outbox

NOTE = "Customer sounds angry; finance says refund NOTE-7731 only after Friday."
REPLY = "We have refunded the second charge."


def form_data(ticket: Ticket, **overrides: str) -> dict:
    data = {
        "title": ticket.title,
        "assignee": ticket.assignee_id or "",
        "status": ticket.status,
        "initial-status": ticket.status,
        "action_taken": ticket.action_taken,
        "reply": "",
        "internal_note": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def staff(client):
    user = StaffFactory(name="Sam Agent")
    client.force_login(user)
    return user


@pytest.fixture
def fired():
    """Every ticket signal sent (each drives a push to an open widget, a delivery or a refresh)."""
    sent: list[tuple[str, dict]] = []

    def receiver_for(name: str):
        return lambda sender, **kwargs: sent.append((name, kwargs))

    receivers = {name: receiver_for(name) for name in ("staff_replied", "ticket_changed", "message_stored")}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, weak=False)
    yield sent
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_a_note_is_stored_for_staff_and_shown_on_the_ticket_page_marked_as_such(client, staff):
    ticket = make_ticket(messages=2)
    response = client.post(ticket_change_url(ticket), form_data(ticket, internal_note=f"  {NOTE} <b>x</b>  "))
    assert response.status_code == 302

    note = TicketNote.objects.get(ticket=ticket)
    assert (note.author, note.text) == (staff, f"{NOTE} <b>x</b>")
    assert not Message.objects.filter(text__contains="NOTE-7731").exists()
    html = client.get(ticket_change_url(ticket)).content.decode()
    item = re.search(r'<li class="loophole-note">.*?</li>', html, re.S).group(0)
    assert "Internal note" in item and "Sam Agent" in item and "NOTE-7731" in item
    assert "<b>x</b>" not in html  # escaped
    assert html.index("I was charged twice for invoice INV-1001") < html.index("NOTE-7731")  # in time order
    assert '<textarea name="internal_note"' in html


def test_a_note_alone_sends_nothing_moves_nothing_and_pushes_nothing(
    client, staff, fired, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(ticket_change_url(ticket), form_data(ticket, internal_note=NOTE)).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.SUBMITTED
    assert fired == []
    assert mail.outbox == []


@pytest.mark.parametrize("channel", ["chat", "sms", "email", "voice"])
def test_a_note_never_reaches_the_customer_on_their_channel(
    client, staff, channel, twilio, settings, django_capture_on_commit_callbacks
):
    settings.CHAT_AWAY_EMAIL_AFTER = 0
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=CUSTOMER_NUMBER)
    ticket = make_ticket(customer, channel=channel)
    sender = {"sms": CUSTOMER_NUMBER, "voice": CUSTOMER_NUMBER, "email": customer.email}.get(channel, "")
    Conversation.objects.filter(pk=ticket.conversation_id).update(sender=sender)
    mail.outbox.clear()
    backends.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ticket_change_url(ticket), form_data(ticket, reply=REPLY, internal_note=NOTE))
    assert response.status_code == 302

    # What the customer could read: mail, texts, the widget's JSON, every status answer's latest reply.
    sent = [m.body + str(m.alternatives) + m.subject for m in mail.outbox] + [t["body"] for t in backends.outbox]
    widget = Client()
    widget.force_login(customer)
    sent.append(widget.get(f"/chat/conversations/{ticket.conversation_id}/messages/?after=0").content.decode())
    sent.append(widget.get("/chat/tickets/").content.decode())
    sent.append(widget.get("/chat/conversations/").content.decode())
    view = tools.ticket_view(selectors.ticket_for(customer, ticket.reference))
    sent.append(repr(view))
    assert view.latest_reply == REPLY
    assert not any("NOTE-7731" in text for text in sent)
    assert any(REPLY in text for text in sent)  # the reply did reach the customer
    assert not Message.objects.filter(text__contains="NOTE-7731").exists()


def test_the_assistant_answering_a_status_question_by_sms_never_reads_the_note(
    client, staff, twilio, django_capture_on_commit_callbacks
):
    customer = UserFactory(email="dana@example.com")
    PhoneNumber.objects.create(user=customer, number=CUSTOMER_NUMBER)
    ticket = make_ticket(customer, channel="sms")
    services.add_staff_reply(ticket.pk, staff=staff, text=REPLY)
    services.add_internal_note(ticket.pk, staff=staff, text=NOTE)
    backends.outbox.clear()

    form = payload(
        "sms_inbound", Body=f"status of {ticket.reference}?", From=CUSTOMER_NUMBER, MessageSid="SM" + "7" * 32
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(), "/channels/sms/inbound", form)

    assert response.status_code == 200
    answer = response.content.decode() + "".join(t["body"] for t in backends.outbox)
    assert ticket.reference in answer and "NOTE-7731" not in answer


def test_notes_are_purged_with_their_ticket(staff):
    ticket = make_ticket()
    services.add_internal_note(ticket.pk, staff=staff, text=NOTE)
    services.change_status(ticket.pk, Status.RESOLVED, actor=staff, action_taken="Refunded.")
    kept = make_ticket()
    services.add_internal_note(kept.pk, staff=staff, text="Still open.")

    services.purge_closed_tickets(now=timezone.now() + timedelta(days=31))

    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert list(TicketNote.objects.values_list("ticket_id", flat=True)) == [kept.pk]


def test_a_support_staff_member_without_the_note_permission_gets_403_and_nothing_is_written(client):
    member = StaffFactory()
    member.groups.get().permissions.remove(Permission.objects.get(codename="add_internal_note"))
    member = type(member).objects.get(pk=member.pk)  # permissions are cached per instance
    assert not member.has_perm("tickets.add_internal_note")
    client.force_login(member)
    ticket = make_ticket()

    assert '<textarea name="internal_note"' not in client.get(ticket_change_url(ticket)).content.decode()
    response = client.post(ticket_change_url(ticket), form_data(ticket, reply=REPLY, internal_note=NOTE))

    assert response.status_code == 403
    assert not TicketNote.objects.exists()
    assert not Message.objects.filter(author="staff").exists()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.SUBMITTED
    # Without a note the same member still replies.
    assert client.post(ticket_change_url(ticket), form_data(ticket, reply=REPLY)).status_code == 302


def test_the_support_staff_group_may_add_notes():
    assert StaffFactory().has_perm("tickets.add_internal_note")
    assert not UserFactory(is_staff=True).has_perm("tickets.add_internal_note")


@pytest.mark.parametrize(
    ("note", "error"),
    [("", None), (" \n\t ", None), ("x" * 4001, "at most 4000")],
    ids=["empty", "whitespace", "too-long"],
)
def test_empty_notes_are_ignored_and_an_over_long_one_is_a_form_error(client, staff, note, error):
    ticket = make_ticket()
    response = client.post(ticket_change_url(ticket), form_data(ticket, internal_note=note))
    if error is None:
        assert response.status_code == 302
    else:
        assert response.status_code == 200
        assert error in str(response.context["adminform"].form.errors["internal_note"])
    assert not TicketNote.objects.exists()


def test_the_note_service_refuses_empty_and_over_long_text(staff):
    ticket = make_ticket()
    for text in ("", "   ", "x" * 4001, "a\x00b"):
        with pytest.raises(services.TicketError):
            services.add_internal_note(ticket.pk, staff=staff, text=text)
    assert not TicketNote.objects.exists()
