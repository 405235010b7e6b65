"""The staff's ticket list, page 1: its statements counted exactly (one more fails here)."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory, make_ticket

pytestmark = pytest.mark.django_db

LIST = reverse("admin:tickets_ticket_changelist")


def test_the_first_page_of_the_ticket_list_costs_six_statements(client, staff, django_assert_num_queries):
    for i in range(30):
        make_ticket(UserFactory(), channel=["chat", "sms", "email", "voice"][i % 4])
    # session; user; the user's permissions; the user's groups' permissions; the capped count of
    # tickets; the page's tickets with what the columns show
    with django_assert_num_queries(6):
        response = client.get(LIST)
    assert response.status_code == 200
    assert response.content.decode().count("LH-") >= 25
