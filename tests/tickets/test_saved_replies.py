"""Saved replies: staff-managed snippets with safe placeholders, offered on a ticket's page."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import StaffFactory, UserFactory, make_ticket
from tests.tickets.helpers import ticket_change_url
from tickets.models import SavedReply
from tickets.saved_replies import check_body, fill

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tickets_savedreply_add")


def picker_texts(response) -> dict[str, str]:
    found = re.search(
        r'<script id="loophole-saved-replies" type="application/json">(.*?)</script>', response.text, re.S
    )
    assert found, "no saved replies data on the page"
    return json.loads(found.group(1))


def test_placeholders_are_filled_for_the_ticket():
    ticket = make_ticket(UserFactory(name="Ana Silva"))
    assert (
        fill("Hi {customer_name}, about {ticket_id}: done.", ticket) == f"Hi Ana Silva, about {ticket.reference}: done."
    )


@pytest.mark.parametrize(
    "body",
    [
        "{customer_name.__class__}",
        "{ticket_id.__init__.__globals__}",
        "{0}",
        "{customer_name!r}",
        "{ticket_id:>99}",
        "{}",
    ],
    ids=["attribute", "globals", "index", "conversion", "format-spec", "empty"],
)
def test_hostile_placeholders_are_left_as_typed_and_refused_on_save(body):
    ticket = make_ticket(UserFactory(name="Ana"))
    assert fill(body, ticket) == body
    with pytest.raises(ValidationError):
        check_body(body)


def test_a_customer_name_that_looks_like_a_placeholder_is_not_filled_again():
    ticket = make_ticket(UserFactory(name="{ticket_id}"))
    assert fill("{customer_name}", ticket) == "{ticket_id}"


def test_filling_is_linear_in_the_body():
    ticket = make_ticket()
    body = "{" * 200_000 + "x" + "}" * 200_000
    assert fill(body, ticket) == body


def test_staff_with_the_permission_create_a_reply_and_unknown_placeholders_are_a_form_error(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_savedreply", "view_savedreply"]))
    client.force_login(user)

    refused = client.post(ADD, {"title": "Refund", "body": "Hi {customer_name.__class__} {name}", "is_active": "on"})
    assert refused.status_code == 200
    assert "Unknown placeholder(s): {customer_name.__class__}, {name}" in unescape(refused.text)
    assert not SavedReply.objects.exists()

    saved = client.post(
        ADD, {"title": "Refund", "body": "Hi {customer_name}, {ticket_id} is refunded.", "is_active": "on"}
    )
    assert saved.status_code == 302
    assert SavedReply.objects.get().created_by == user


def test_support_staff_see_saved_replies_but_cannot_add_change_or_delete_them(client):
    reply = SavedReply.objects.create(title="Refund", body="Refunded.")
    client.force_login(StaffFactory())
    assert client.get(reverse("admin:tickets_savedreply_changelist")).status_code == 200
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"title": "Mine", "body": "x", "is_active": "on"}).status_code == 403
    change = reverse("admin:tickets_savedreply_change", args=[reply.pk])
    assert client.post(change, {"title": "Changed", "body": "x"}).status_code == 403
    assert client.post(reverse("admin:tickets_savedreply_delete", args=[reply.pk]), {"post": "yes"}).status_code == 403
    assert SavedReply.objects.get().title == "Refund"


def test_a_staff_member_without_permission_gets_no_saved_replies(client):
    SavedReply.objects.create(title="Refund", body="Refunded.")
    ticket = make_ticket()
    stranger = UserFactory(is_staff=True)
    stranger.user_permissions.add(Permission.objects.get(codename="change_ticket"))
    client.force_login(stranger)
    assert client.get(reverse("admin:tickets_savedreply_changelist")).status_code == 403
    page = client.get(ticket_change_url(ticket))
    assert page.status_code == 200
    assert "loophole-saved-replies" not in page.text


def test_the_ticket_page_offers_active_replies_filled_in_for_this_ticket_and_escaped(client):
    customer = UserFactory(name="</script><script>alert(1)</script>")
    ticket = make_ticket(customer)
    shown = SavedReply.objects.create(
        title="<b>Refund</b>", body="Hi {customer_name}, {ticket_id} <img src=x onerror=alert(1)>"
    )
    SavedReply.objects.create(title="Retired", body="Old text.", is_active=False)
    client.force_login(StaffFactory())

    page = client.get(ticket_change_url(ticket))

    assert page.status_code == 200
    assert "<b>Refund</b>" not in page.text and "&lt;b&gt;Refund&lt;/b&gt;" in page.text
    assert "<img src=x" not in page.text and "</script><script>alert" not in page.text
    assert "Retired" not in page.text
    assert picker_texts(page) == {
        str(shown.pk): f"Hi </script><script>alert(1)</script>, {ticket.reference} <img src=x onerror=alert(1)>"
    }
    assert 'src="/static/js/admin_saved_replies.js"' in page.text


def test_each_ticket_page_has_its_own_filled_texts(client):
    a, b = make_ticket(UserFactory(name="Ana")), make_ticket(UserFactory(name="Bo"))
    reply = SavedReply.objects.create(title="Hello", body="Hello {customer_name} ({ticket_id})")
    client.force_login(StaffFactory())
    assert picker_texts(client.get(ticket_change_url(a)))[str(reply.pk)] == f"Hello Ana ({a.reference})"
    assert picker_texts(client.get(ticket_change_url(b)))[str(reply.pk)] == f"Hello Bo ({b.reference})"
