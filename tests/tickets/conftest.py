import pytest

from tests.factories import StaffFactory


@pytest.fixture
def staff(client):
    """A staff member, logged in on the test client."""
    user = StaffFactory()
    client.force_login(user)
    return user
