"""The mail about an account: the sign-up's verification link, "you already have an account", and the
password reset link, rendered from templates/emails/ and sent from SUPPORT_EMAIL.

A verification link carries the account's id and a digest of its address (not the address: links
reach access logs), signed with a timestamp (Django's TimestampSigner): it works for
EMAIL_VERIFICATION_TIMEOUT seconds, for that address only. A reset link is Django's own
(PasswordResetTokenGenerator): it stops working once the password changes.
"""

import hashlib
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

VERIFICATION_SALT = "loophole.accounts.verify-email"
TOKEN_MAX = 300  # characters: a real token is well under it


class AccountEmail(StrEnum):
    VERIFY = "verify_email"
    EXISTS = "account_exists"
    RESET = "password_reset"


SUBJECTS = {
    AccountEmail.VERIFY: "Verify your email address for Loophole support",
    AccountEmail.EXISTS: "You already have a Loophole support account",
    AccountEmail.RESET: "Reset your Loophole support password",
}


class BadLink(Exception):
    """A verification link that is not ours, was altered, or names an account that has changed."""


class ExpiredLink(BadLink):
    pass


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def verification_token(user: Any) -> str:
    return signing.dumps([user.pk, _digest(user.email)], salt=VERIFICATION_SALT)


def account_for_token(token: str) -> Any:
    """The active account a verification token names. Raises ExpiredLink or BadLink."""
    if len(token) > TOKEN_MAX:
        raise BadLink("too long")
    try:
        pk, digest = signing.loads(token, salt=VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_TIMEOUT)
    except signing.SignatureExpired as exc:
        raise ExpiredLink("expired") from exc
    except (signing.BadSignature, TypeError, ValueError) as exc:
        raise BadLink("bad signature") from exc
    user = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
    if user is None or _digest(user.email) != digest:
        raise BadLink("no such account, or its address has changed")
    return user


def _link(user: Any, kind: AccountEmail) -> str:
    if kind == AccountEmail.VERIFY:
        path = reverse("verify_email", args=[verification_token(user)])
    elif kind == AccountEmail.RESET:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        path = reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    else:
        path = reverse("password_reset")
    return settings.PUBLIC_URL + path


def build(kind: AccountEmail, user: Any) -> EmailMultiAlternatives:
    # No name in these: a sign-up's name is whatever was typed, and its mail may go to someone else.
    context = {
        "link": _link(user, kind),
        "login_url": settings.PUBLIC_URL + reverse("login"),
        "public_url": settings.PUBLIC_URL,
        "valid_hours": (
            settings.EMAIL_VERIFICATION_TIMEOUT if kind == AccountEmail.VERIFY else settings.PASSWORD_RESET_TIMEOUT
        )
        // 3600,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECTS[kind],
        body=render_to_string(f"emails/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        reply_to=[settings.SUPPORT_EMAIL],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string(f"emails/{kind}.html", context), "text/html")
    return message


def send(kind: AccountEmail, user: Any) -> None:
    """Send it now (raises OSError/SMTPException on failure). Called only from loophole.tasks."""
    build(kind, user).send(fail_silently=False)
