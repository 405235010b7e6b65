"""Customer accounts: sign-up with a verified address, password reset and change, on Django's auth views.

A new account is unverified until its owner follows the link mailed to them; until then they may log
in, and chat as an unknown sender (general help only: no ticket data, no ticket). Following a
password reset link verifies the address too. No page tells whether an address has an account:
sign-up with one answers as for a new address (its owner gets a "you already have an account" mail),
and a reset for an unknown address answers as for a known one. Mail leaves only from a task, so
neither answer waits for it. Account mail is limited per client IP and per address
(settings.ACCOUNT_MAIL_*), counted in the cache like the log-in lock-out's failures.
"""

import hashlib
import logging
import math
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import BaseUserCreationForm, PasswordResetForm
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe
from django.views.generic import FormView, TemplateView

from loophole import account_emails, ratelimit, tasks
from loophole.account_emails import AccountEmail
from loophole.celery import enqueue_on_commit
from loophole.http import AuthenticatedRequest

logger = logging.getLogger(__name__)

TOO_MANY = "Too many requests for this address or from your network. Please try again in {wait}."


def normalize_address(raw: str) -> str:
    """An address as accounts store it (the user manager's normalisation, then lower-cased)."""
    return get_user_model()._default_manager.normalize_email(raw.strip()).lower()


def account_for(address: str) -> Any:
    """The account log-in would find for this address (a case-insensitive match, as auth's look-up), or None."""
    return get_user_model()._default_manager.filter(email__iexact=address).order_by("pk").first()


def address_key(address: str) -> str:
    """The address as the database compares it (case-insensitively), hashed: the account's own when
    one matches, so that an address counts alike before and after its account exists."""
    account = account_for(address)
    compared = (account.email if account is not None else address).strip().upper()
    return hashlib.sha256(compared.encode()).hexdigest()[:32]


def mail_wait(request: HttpRequest, address: str) -> int:
    """Count one account mail for this client and this address; the seconds to wait when either is
    over its limit (0: send it)."""
    window = settings.ACCOUNT_MAIL_WINDOW
    counted = [("account-mail-ip", ratelimit.client_ip(request), settings.ACCOUNT_MAIL_PER_IP)]
    if address:
        counted.append(("account-mail-address", address_key(address), settings.ACCOUNT_MAIL_PER_ADDRESS))
    wait = 0
    for bucket, ident, limit in counted:
        count, retry_after = ratelimit.hit(bucket, ident, window)
        if count > limit:
            wait = max(wait, retry_after)
    if wait:
        logger.warning("account mail refused for %s s: over the limit", wait)
    return wait


def _too_many_text(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return TOO_MANY.format(wait=f"{minutes} minute{'s' if minutes != 1 else ''}")


def mark_verified(user: Any) -> None:
    """Record that the account's owner has shown they read mail at its address (once: a later call
    keeps the first time)."""
    now = timezone.now()
    if get_user_model()._default_manager.filter(pk=user.pk, email_verified_at=None).update(email_verified_at=now):
        user.email_verified_at = now
        logger.info("account %s verified its email address", user.pk)


class SignupForm(BaseUserCreationForm):
    class Meta:
        model = get_user_model()
        fields = ("email", "name")
        labels = {"email": "Email address", "name": "Your name (optional)"}

    def clean_email(self) -> str:
        return normalize_address(self.cleaned_data["email"])

    def validate_unique(self) -> None:
        # An address with an account is no form error: that would tell anyone which addresses have one.
        # The view mails the account's owner instead; the unique index still holds.
        pass


class ResetForm(PasswordResetForm):
    def save(self, *args: Any, **kwargs: Any) -> None:
        """Queue a reset mail for each account of the address that may have one (Django's get_users:
        active, with a usable password); nothing waits for it here."""
        for user in self.get_users(self.cleaned_data["email"]):
            enqueue_on_commit(tasks.send_account_email, AccountEmail.RESET, user.pk)


class MailLimitMixin:
    """For a FormView that mails an address: over a limit, the form comes back with the error, as 429."""

    if TYPE_CHECKING:  # given by the FormView it is mixed into
        request: HttpRequest

        def form_invalid(self, form: forms.BaseForm) -> HttpResponse: ...

    def refused(self, form: forms.BaseForm, address: str) -> HttpResponse | None:
        wait = mail_wait(self.request, address)
        if not wait:
            return None
        form.add_error(None, forms.ValidationError(_too_many_text(wait), code="rate_limited"))
        response = self.form_invalid(form)
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response


def _signup_enabled() -> None:
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is turned off")


@method_decorator([sensitive_post_parameters("password1", "password2"), never_cache], name="dispatch")
class SignupView(MailLimitMixin, FormView):
    form_class = SignupForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("signup_done")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        _signup_enabled()
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignupForm) -> HttpResponse:
        address = form.cleaned_data["email"]
        refused = self.refused(form, address)
        if refused is not None:
            return refused
        existing = account_for(address)
        if existing is None:
            try:
                with transaction.atomic():
                    user = form.save()
            except IntegrityError:  # the same address signed up at the same moment
                existing = account_for(address)
            else:
                logger.info("account %s signed up", user.pk)
                enqueue_on_commit(tasks.send_account_email, AccountEmail.VERIFY, user.pk)
        if existing is not None:
            # Hash the password all the same, as ModelBackend does for an unknown user: the answer
            # takes as long as a new account's.
            make_password(form.cleaned_data["password1"])
            logger.info("sign-up for the address of account %s: its owner is told", existing.pk)
            if existing.is_active:
                enqueue_on_commit(tasks.send_account_email, AccountEmail.EXISTS, existing.pk)
        return super().form_valid(form)


class SignupDoneView(TemplateView):
    template_name = "registration/signup_done.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        _signup_enabled()
        return super().dispatch(request, *args, **kwargs)


@never_cache
@require_safe
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a verification mail: verifies the address, then shows that (a used link again
    shows the same; nothing changes)."""
    try:
        user = account_emails.account_for_token(token)
    except account_emails.ExpiredLink:
        return render(request, "registration/verify_email_failed.html", {"expired": True}, status=400)
    except account_emails.BadLink:
        logger.warning("a bad email verification link was followed")
        return render(request, "registration/verify_email_failed.html", {"expired": False}, status=400)
    mark_verified(user)
    # Redirected, so that the page's address (and any Referer it sends) carries no token.
    return redirect("verify_email_done")


@never_cache
@require_POST
@login_required
def resend_verification(request: AuthenticatedRequest) -> HttpResponse:
    """A new verification link for the logged-in customer's address (the banner's button)."""
    user = request.user
    if user.has_verified_email:
        return redirect(settings.LOGIN_REDIRECT_URL)
    wait = mail_wait(request, user.email)
    if wait:
        response = render(request, "registration/verify_email_sent.html", {"error": _too_many_text(wait)}, status=429)
        response["Retry-After"] = str(wait)
        return response
    enqueue_on_commit(tasks.send_account_email, AccountEmail.VERIFY, user.pk)
    return redirect("verify_email_sent")


class PasswordResetView(MailLimitMixin, auth_views.PasswordResetView):
    form_class = ResetForm

    def form_valid(self, form: ResetForm) -> HttpResponse:
        refused = self.refused(form, normalize_address(form.cleaned_data["email"]))
        return refused if refused is not None else super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form: forms.Form) -> HttpResponse:
        response = super().form_valid(form)
        mark_verified(self.user)  # the link came by mail to the account's address
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/change_password.html"


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/change_password_done.html"
