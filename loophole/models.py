"""Accounts: a customer or staff member is a User whose login is the account email."""

import re
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def normalize_phone(raw: str) -> str:
    """Return `raw` in E.164 (`+15555550100`). Raises ValueError when it is not a full number."""
    number = _PHONE_PUNCTUATION.sub("", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if not E164.match(number):
        raise ValueError("a phone number needs a + and the country code, like +15555550100")
    return number


def validate_e164(value: str) -> None:
    if not E164.match(value or ""):
        raise ValidationError("Enter the number in E.164 form, like +15555550100.", code="e164")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=(username or "").strip())

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        """An account whose address counts as verified (made by an operator or a trusted product), unless
        `email_verified_at=None` is given. Sign-up leaves it unset until its link is followed."""
        extra.setdefault("email_verified_at", timezone.now())
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    # Stored lower-cased (save() sees to it), so the unique index is case-insensitive in effect.
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can log in to the staff admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Until set, the customer is an unknown sender on every channel: general help, no ticket data, no ticket.
    email_verified_at = models.DateTimeField(
        "email verified at", null=True, blank=True, help_text="Empty until the customer follows the link we mail."
    )
    # The host product's user id (the `sub` of its signed widget token): the embedded widget finds
    # the account by this, never by the address alone.
    product_user_id = models.CharField(
        "product user id",
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text="Set when the account came from the company's product through the embedded widget.",
    )
    # Staff only: the ticket notifications (new ticket, customer reply, reopened) come by email.
    notify_by_email = models.BooleanField(
        "email me about tickets",
        default=True,
        help_text="Staff: an email when a ticket assigned to you, or an unassigned one, is created, answered "
        "by the customer or reopened.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        # The ticket search's partial email (stored lower-cased: `contains`) and name (`icontains`);
        # PostgreSQL only, see the migration.
        indexes = [
            GinIndex(fields=["email"], opclasses=["gin_trgm_ops"], name="user_email_trgm"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="user_name_trgm"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="user_email_lower_case"),
            models.CheckConstraint(condition=~models.Q(email=""), name="user_email_not_empty"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def has_verified_email(self) -> bool:
        return self.email_verified_at is not None

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


class PhoneNumber(models.Model):
    """A phone number on file for a customer, in E.164; one account per number."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phone_numbers")
    number = models.CharField(max_length=16, unique=True, validators=[validate_e164])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The ticket search's phone tail (`endswith`); PostgreSQL only, see the migration.
        indexes = [GinIndex(fields=["number"], opclasses=["gin_trgm_ops"], name="phone_number_trgm")]
        constraints = [
            models.CheckConstraint(condition=models.Q(number__regex=r"^\+[1-9][0-9]{6,14}$"), name="phone_e164"),
        ]

    def __str__(self) -> str:
        return self.number
