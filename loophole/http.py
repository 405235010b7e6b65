"""The request type of views that only a logged-in account reaches."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from loophole.models import User


class AuthenticatedRequest(HttpRequest):
    """A request past a login check (`login_required`, the chat's `customer_required`, the admin's own):
    `user` is an account, never `AnonymousUser`."""

    user: User


def account(request: HttpRequest) -> User:
    """The account of a request that passed a login check (in the admin: always); 403 otherwise."""
    if not isinstance(request.user, User):
        raise PermissionDenied("Log in first.")
    return request.user
