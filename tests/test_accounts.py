"""Accounts: email is the login (stored lower-cased), phone numbers in E.164."""

import pytest
from django.core.exceptions import ValidationError

from loophole.models import PhoneNumber, normalize_phone
from tests.factories import UserFactory


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (555) 555-0100", "+15555550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "555-0100", "+0 555 0100", "+1 555", "phone", "+1555555010099999"])
def test_things_that_are_not_full_numbers_are_refused(raw):
    with pytest.raises(ValueError, match="country code"):
        normalize_phone(raw)


@pytest.mark.django_db
def test_emails_are_stored_lower_cased():
    assert UserFactory(email="  Dana@Example.COM ").email == "dana@example.com"


@pytest.mark.django_db
def test_the_model_validates_e164():
    with pytest.raises(ValidationError):
        PhoneNumber(user=UserFactory(), number="5550100").full_clean()
