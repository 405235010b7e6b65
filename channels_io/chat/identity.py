"""The host product's user in the embedded widget: a token the product's server signs (HS256 JWT
with settings.WIDGET_JWT_SECRET, claims `sub`, `email`, `name`, `exp`) names the customer.

An account is found by `sub` (stored as User.product_user_id) and made on first sight, verified: the
product vouches for the address. It is never found by the address alone: a token whose address
belongs to an account of another `sub`, or of none (signed up here, or made by staff), is refused,
since anyone who can get a token for that address from the product would otherwise take it over.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from loophole.accounts import account_for, normalize_address

logger = logging.getLogger(__name__)

ALGORITHMS = ["HS256"]  # never read from the token: "none", RS256 or HS512 are refused
MAX_TOKEN = 4096
MAX_LIFETIME = timedelta(hours=1)
LEEWAY = timedelta(seconds=30)  # clock skew between the product's server and ours
EMBED_SALT = "chat.embed-origin"
EMBED_MAX_AGE = 24 * 60 * 60  # seconds a frame page's proof of its embedding origin is good for


class Refused(Exception):
    """The token or the request is refused; `status` is the HTTP answer (401 or 403, 409 for an address
    that belongs to another account)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Claims:
    sub: str
    email: str
    name: str


def verify(token: Any) -> Claims:
    """The claims of a valid token. Raises Refused saying what is wrong with it."""
    secret = settings.WIDGET_JWT_SECRET
    if not secret:
        raise Refused("This support site takes no identity tokens: WIDGET_JWT_SECRET is not set.", 403)
    if not isinstance(token, str) or not token:
        raise Refused("No token: send the signed identity token of the logged-in user.")
    if len(token) > MAX_TOKEN:
        raise Refused(f"The token is too long: at most {MAX_TOKEN} characters.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            options={"require": ["exp", "sub"]},
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise Refused("The token has expired: sign a new one for each page.") from None
    except jwt.InvalidAlgorithmError:
        raise Refused("The token's algorithm is not allowed: sign it with HS256.") from None
    except jwt.InvalidSignatureError:
        raise Refused("The token's signature is wrong: sign it with WIDGET_JWT_SECRET.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Refused(f'The token has no "{exc.claim}" claim.') from None
    except jwt.DecodeError:
        raise Refused("The token is malformed: it must be a signed JWT.") from None
    except jwt.InvalidTokenError as exc:
        raise Refused(f"The token is invalid: {exc}.") from None
    return _checked(claims)


def _checked(claims: dict[str, Any]) -> Claims:
    exp = claims["exp"]
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise Refused('The token\'s "exp" must be a number of seconds.')
    if exp > (timezone.now() + MAX_LIFETIME + LEEWAY).timestamp():
        raise Refused('The token\'s "exp" is more than one hour ahead: sign short-lived tokens.')
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise Refused("The token's \"sub\" must be the user's id as a string of 1 to 255 characters.")
    email = claims.get("email")
    if not isinstance(email, str):
        raise Refused('The token has no "email" claim.')
    try:
        validate_email(email)
    except ValidationError:
        raise Refused('The token\'s "email" is not an email address.') from None
    name = claims.get("name", "")
    if not isinstance(name, str) or len(name) > 150:
        raise Refused('The token\'s "name" must be a string of at most 150 characters.')
    return Claims(sub=sub, email=normalize_address(email), name=name.strip())


def account_for_claims(claims: Claims) -> Any:
    """The account of the product's user `claims.sub`, made on first sight (verified, no password) and
    kept in step with the token's address and name. Raises Refused for an address of another account,
    or an account that may not use the widget."""
    User = get_user_model()
    try:
        with transaction.atomic():
            user = User._default_manager.select_for_update().filter(product_user_id=claims.sub).first()
            if user is None:
                return _create(claims)
            return _update(user, claims)
    except IntegrityError:  # the same user's first token twice at once, or its address taken meanwhile
        user = User._default_manager.filter(product_user_id=claims.sub).first()
        if user is None:
            raise Refused(_TAKEN, 409) from None
        return user


_TAKEN = (
    "An account with this email address exists already and is not linked to this user of your product; "
    "it is not taken over. Ask support to link it."
)


def _create(claims: Claims) -> Any:
    if account_for(claims.email) is not None:
        logger.warning("widget identity refused: the address belongs to an account of another product user")
        raise Refused(_TAKEN, 409)
    user = get_user_model()._default_manager.create_user(
        claims.email, None, name=claims.name, product_user_id=claims.sub
    )
    logger.info("account %s made for a product user of the embedded widget", user.pk)
    return user


def _update(user: Any, claims: Claims) -> Any:
    if user.is_staff or not user.is_active:
        logger.warning("widget identity refused for account %s: staff or inactive", user.pk)
        raise Refused("This account may not use the embedded widget.", 403)
    changed = []
    if user.email != claims.email:
        other = account_for(claims.email)
        if other is not None and other.pk != user.pk:
            logger.warning("widget identity refused for account %s: its new address belongs to another", user.pk)
            raise Refused(_TAKEN, 409)
        user.email = claims.email
        changed.append("email")
    if claims.name and user.name != claims.name:
        user.name = claims.name
        changed.append("name")
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        changed.append("email_verified_at")
    if changed:
        user.save(update_fields=changed)
    return user


def embed_proof(origin: str) -> str:
    """What the widget's frame, embedded in a page of `origin`, sends back to show where it runs."""
    return signing.dumps(origin, salt=EMBED_SALT)


def embedding_origin(proof: str) -> str:
    """The origin a frame page's proof names, if it is still allowed to embed the widget. Raises Refused."""
    try:
        origin = signing.loads(proof, salt=EMBED_SALT, max_age=EMBED_MAX_AGE)
    except signing.SignatureExpired:
        raise Refused("The widget's frame is too old: reload the page.", 403) from None
    except signing.BadSignature:
        raise Refused("The widget's frame could not show which page it is on.", 403) from None
    if not isinstance(origin, str) or origin not in allowed_origins():
        raise Refused(f"Pages of {origin} may not embed the widget: see WIDGET_ALLOWED_ORIGINS.", 403)
    return origin


def allowed_origins() -> tuple[str, ...]:
    """The origins whose pages may embed the widget: WIDGET_ALLOWED_ORIGINS and our own."""
    return (settings.PUBLIC_URL, *settings.WIDGET_ALLOWED_ORIGINS)
