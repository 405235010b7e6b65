"""Log-in lock-out, for /accounts/login/ and the admin's log-in.

Failures are counted in the cache per account and per client IP. The account is the one Django's auth
would log in for the identifier typed: "\u0131ris@…" (a dotless i), which the database's case-insensitive
match takes for "iris@…", counts against iris. When no account has the identifier it counts in
capitals. Either way it is hashed, and the lock tells nothing about which accounts exist. At
LOGIN_FAILURES_PER_ACCOUNT failures for an account, or LOGIN_FAILURES_PER_IP from one IP, within
LOGIN_FAILURE_WINDOW seconds, further attempts are refused for LOGIN_LOCKOUT_SECONDS, the right
password included. A successful log-in clears the account's count (not the IP's: an attacker's own
account must not reset it). When the cache is down the lock-out is not enforced, like the request
limits: a log-in is never a 500 because Redis is away. `manage.py unlock_login` lifts a lock.
"""

import hashlib
import logging
import math
import time
from typing import Any

import redis
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpResponse

from loophole import ratelimit

logger = logging.getLogger(__name__)

LOCKED = "Too many failed log-in attempts. For your security, logging in is paused: try again in {wait}."


def account_key(username: str) -> str:
    """The account an identifier logs in to, as auth's own look-up finds it, hashed ("" for none typed).
    One query: a log-in computes it once for its look-up, its count and its clearing."""
    if not username:
        return ""
    user_model = get_user_model()
    try:
        ident = f"user:{user_model._default_manager.get_by_natural_key(username).pk}"
    except (user_model.DoesNotExist, user_model.MultipleObjectsReturned):
        ident = f"name:{username.strip().upper()}"  # as a case-insensitive match compares it
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _lock_key(kind: str, ident: str) -> str:
    return f"{ratelimit.KEY_PREFIX}:login-lock:{kind}:{ident}"


def locked_for(account: str, ip: str) -> int:
    """Seconds until this account (an account_key) and this IP may try again (0: not locked)."""
    keys = [_lock_key("ip", ip)]
    if account:
        keys.append(_lock_key("account", account))
    try:
        stored = cache.get_many(keys)
    except (redis.RedisError, OSError):
        ratelimit.warn_unavailable()
        return 0
    until = max((float(v) for v in stored.values()), default=0.0)
    return max(0, math.ceil(until - time.time()))


def record_failure(account: str, ip: str) -> None:
    window, lockout = settings.LOGIN_FAILURE_WINDOW, settings.LOGIN_LOCKOUT_SECONDS
    counted = [("ip", ip, settings.LOGIN_FAILURES_PER_IP)]
    if account:
        counted.append(("account", account, settings.LOGIN_FAILURES_PER_ACCOUNT))
    for kind, ident, limit in counted:
        count, _ = ratelimit.hit(f"login-{kind}", ident, window)
        if count >= limit:
            # The time it ends is stored (and compared with the clock), not only the cache's expiry.
            try:
                cache.set(_lock_key(kind, ident), time.time() + lockout, timeout=lockout)
            except (redis.RedisError, OSError):
                ratelimit.warn_unavailable()
                continue
            logger.warning("log-in locked for %s s after %s failures %s", lockout, count,
                           f"from {ip}" if kind == "ip" else "for one account")  # fmt: skip


def record_success(account: str) -> None:
    ratelimit.forget("login-account", account, settings.LOGIN_FAILURE_WINDOW)


def unlock(*, username: str = "", ip: str = "") -> None:
    """Lift the lock and forget the failures counted so far for an account, an IP, or both.
    Raises redis.RedisError or OSError when the cache cannot be reached."""
    window = settings.LOGIN_FAILURE_WINDOW
    for kind, ident in (("account", account_key(username)), ("ip", ip)):
        if ident:
            cache.delete(_lock_key(kind, ident))
            ratelimit.forget(f"login-{kind}", ident, window, strict=True)


def _wait_text(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LockoutMixin(AuthenticationForm):
    """For an AuthenticationForm: refuses while locked, counts failed attempts, clears on success."""

    locked_for = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        assert self.request is not None  # both log-in views build the form with the request
        ip = ratelimit.client_ip(self.request)
        account = account_key(username)
        self.locked_for = locked_for(account, ip)
        if self.locked_for:
            raise forms.ValidationError(LOCKED.format(wait=_wait_text(self.locked_for)), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                record_failure(account, ip)
            raise
        if account and self.cleaned_data.get("password"):
            record_success(account)
        return cleaned


class LoginForm(LockoutMixin, AuthenticationForm):
    pass


class AdminLoginForm(LockoutMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """Django's log-in view with the lock-out: a locked attempt is the form with the error, as 429."""

    authentication_form = LoginForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        locked_for = form.locked_for if isinstance(form, LoginForm) else 0
        if locked_for:
            response.status_code = 429
            response["Retry-After"] = str(locked_for)
        return response
