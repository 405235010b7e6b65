"""Thin Celery tasks for accounts and their sessions."""

import logging
from importlib import import_module

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from loophole import account_emails
from loophole.account_emails import AccountEmail

logger = logging.getLogger(__name__)


@shared_task(name="loophole.send_account_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_account_email(kind: str, user_id: int) -> None:
    """Mail one account email (a link made now). Run twice, it mails a second working link: harmless.
    Nothing is sent for an account that is gone or inactive, or a verification once verified."""
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    if kind == AccountEmail.VERIFY and user.email_verified_at is not None:
        return
    account_emails.send(AccountEmail(kind), user)
    logger.info("account email %s sent to account %s", kind, user_id)


@shared_task(name="loophole.clear_expired_sessions")
def clear_expired_sessions() -> None:
    """Delete the sessions past their expiry date (Django's `clearsessions`; Celery beat, daily). Idempotent."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    logger.info("expired sessions cleared")
