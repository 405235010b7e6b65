"""The embedded widget's identity: the host product's signed token at POST /chat/identify/, the
frame page other origins may embed, and the account a token maps to."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from channels_io.chat import identity
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "host-product-widget-secret-0123456789abcdef-0123456789abcdef-0123"  # HS512 warns below 64 bytes
HOST = "http://127.0.0.1:8765"
User = get_user_model()


@pytest.fixture(autouse=True)
def _embedding(settings):
    settings.WIDGET_JWT_SECRET = SECRET
    settings.WIDGET_ALLOWED_ORIGINS = (HOST,)


def mint(key: str = SECRET, algorithm: str = "HS256", drop: tuple[str, ...] = (), **claims) -> str:
    payload = {"sub": "product-user-42", "email": "ada@host.example", "name": "Ada", "exp": int(time.time()) + 600}
    payload.update(claims)
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key, algorithm=algorithm)


def forged(alg: str) -> str:
    """A token whose header names `alg` but whose signature is HMAC-SHA256 with our secret (the
    "RS256 with the secret as its key" confusion)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = (
        part({"alg": alg, "typ": "JWT"})
        + "."
        + part({"sub": "x", "email": "x@host.example", "exp": int(time.time()) + 600})
    )
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def unsigned() -> str:
    return jwt.encode({"sub": "x", "email": "x@host.example", "exp": int(time.time()) + 600}, None, algorithm="none")


def identify(client: Client, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/chat/identify/", data=raw, content_type="application/json", **headers)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


BAD_TOKENS = [
    ({}, "No token"),
    ({"token": ""}, "No token"),
    ({"token": 42}, "No token"),
    ({"token": "x" * 5000}, "too long"),
    ({"token": "not-a-jwt"}, "malformed"),
    ({"token": "a.b.c"}, "malformed"),
    ({"token": mint(exp=int(time.time()) - 120)}, "expired"),
    ({"token": mint(key="another-products-secret-0123456789abcdef")}, "signature"),
    ({"token": unsigned()}, "algorithm"),
    ({"token": forged("RS256")}, "algorithm"),
    ({"token": forged("none")}, "algorithm"),
    ({"token": mint(algorithm="HS512")}, "algorithm"),
    ({"token": mint(exp=int(time.time()) + 2 * 3600)}, "more than one hour ahead"),
    ({"token": mint(drop=("sub",))}, '"sub"'),
    ({"token": mint(drop=("exp",))}, '"exp"'),
    ({"token": mint(sub="")}, '"sub"'),
    ({"token": mint(sub=42)}, "invalid"),
    ({"token": mint(drop=("email",))}, '"email"'),
    ({"token": mint(email="not an address")}, '"email"'),
    ({"token": mint(name=["Ada"])}, '"name"'),
]
BAD_IDS = [
    "missing",
    "empty",
    "not-a-string",
    "oversized",
    "malformed",
    "malformed-parts",
    "expired",
    "wrong-secret",
    "alg-none",
    "alg-rs256-with-our-secret",
    "alg-none-with-signature",
    "alg-hs512",
    "exp-two-hours-ahead",
    "no-sub",
    "no-exp",
    "empty-sub",
    "numeric-sub",
    "no-email",
    "bad-email",
    "bad-name",
]


@pytest.mark.parametrize(("body", "says"), BAD_TOKENS, ids=BAD_IDS)
def test_a_bad_token_is_refused_saying_why_and_nothing_is_written(body, says):
    client = Client()
    response = identify(client, body)
    assert response.status_code == 401
    assert says in response.json()["error"]
    assert not User.objects.exists()
    assert not logged_in(client)


@pytest.mark.parametrize(("body", "says"), BAD_TOKENS, ids=BAD_IDS)
def test_verify_refuses_a_bad_token(body, says):
    with pytest.raises(identity.Refused, match=None) as refused:
        identity.verify(body.get("token"))
    assert says in str(refused.value)
    assert refused.value.status == 401


def test_a_token_just_under_an_hour_ahead_is_accepted():
    claims = identity.verify(mint(exp=int(time.time()) + 3600))
    assert claims == identity.Claims(sub="product-user-42", email="ada@host.example", name="Ada")


def test_without_a_secret_no_token_is_taken(settings):
    settings.WIDGET_JWT_SECRET = ""
    client = Client()
    response = identify(client, {"token": mint()})
    assert response.status_code == 403
    assert "WIDGET_JWT_SECRET" in response.json()["error"]
    assert not User.objects.exists()


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"token"', b"\xff"], ids=["truncated", "list", "string", "binary"])
def test_a_body_that_is_not_a_json_object_is_refused(raw):
    response = identify(Client(), raw)
    assert response.status_code == 400
    assert "token" in response.json()["error"]


def test_a_valid_token_makes_a_verified_account_and_logs_it_in():
    client = Client()
    response = identify(client, {"token": mint(email="Ada@Host.Example")})
    assert response.status_code == 200
    assert response.json() == {"customer": {"email": "ada@host.example", "name": "Ada"}}
    user = User.objects.get()
    assert (user.product_user_id, user.email, user.name) == ("product-user-42", "ada@host.example", "Ada")
    assert user.has_verified_email
    assert not user.has_usable_password()
    assert not user.is_staff
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/chat/conversations/").status_code == 200  # the widget's requests are that customer


def test_the_same_sub_is_the_same_account_with_its_new_address_and_name():
    first = identify(Client(), {"token": mint()})
    again = identify(Client(), {"token": mint(email="ada.new@host.example", name="Ada L.")})
    assert first.status_code == again.status_code == 200
    user = User.objects.get()
    assert (user.email, user.name) == ("ada.new@host.example", "Ada L.")


def test_another_sub_is_another_account():
    identify(Client(), {"token": mint()})
    identify(Client(), {"token": mint(sub="product-user-43", email="bo@host.example")})
    assert sorted(User.objects.values_list("product_user_id", flat=True)) == ["product-user-42", "product-user-43"]


@pytest.mark.parametrize("their_sub", [None, "product-user-7"], ids=["signed-up-here", "another-product-user"])
def test_a_token_never_takes_over_an_account_by_its_address(their_sub):
    owner = UserFactory(email="ada@host.example", product_user_id=their_sub)
    client = Client()
    response = identify(client, {"token": mint(email="ADA@host.example")})
    assert response.status_code == 409
    assert "not taken over" in response.json()["error"]
    owner.refresh_from_db()
    assert owner.product_user_id == their_sub
    assert User.objects.count() == 1
    assert not logged_in(client)


def test_a_known_sub_cannot_move_onto_another_accounts_address():
    identify(Client(), {"token": mint()})
    UserFactory(email="taken@host.example")
    client = Client()
    response = identify(client, {"token": mint(email="taken@host.example")})
    assert response.status_code == 409
    assert User.objects.get(product_user_id="product-user-42").email == "ada@host.example"
    assert not logged_in(client)


def test_a_staff_account_cannot_be_entered_with_a_token():
    StaffFactory(email="agent@host.example", product_user_id="product-user-42")
    client = Client()
    response = identify(client, {"token": mint(email="agent@host.example")})
    assert response.status_code == 403
    assert not logged_in(client)


def test_a_refused_token_ends_the_session_an_earlier_token_made():
    client = Client()
    assert identify(client, {"token": mint()}).status_code == 200
    response = identify(client, {"token": mint(exp=int(time.time()) - 120)})
    assert response.status_code == 401
    assert not logged_in(client)
    assert client.get("/chat/conversations/").status_code == 401


def test_the_frame_proves_an_allowed_origin():
    proof = identity.embed_proof(HOST)
    response = identify(Client(), {"token": mint()}, HTTP_X_WIDGET_ORIGIN=proof)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("proof", "says"),
    [
        (lambda: identity.embed_proof("https://evil.example"), "https://evil.example may not embed"),
        (lambda: identity.embed_proof(HOST)[:-2] + "xx", "could not show"),
        (lambda: "http://127.0.0.1:8765", "could not show"),
    ],
    ids=["origin-not-allowed", "tampered", "unsigned"],
)
def test_a_frame_on_a_disallowed_origin_is_refused(proof, says):
    client = Client()
    response = identify(client, {"token": mint()}, HTTP_X_WIDGET_ORIGIN=proof())
    assert response.status_code == 403
    assert says in response.json()["error"]
    assert not User.objects.exists()
    assert not logged_in(client)


def test_an_origin_removed_from_the_allowed_list_loses_its_frames(settings):
    proof = identity.embed_proof(HOST)
    settings.WIDGET_ALLOWED_ORIGINS = ()
    response = identify(Client(), {"token": mint()}, HTTP_X_WIDGET_ORIGIN=proof)
    assert response.status_code == 403


def test_a_request_from_another_sites_page_is_refused():
    client = Client(enforce_csrf_checks=True)
    response = identify(client, {"token": mint()}, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert "frame" in response.json()["error"]
    assert not User.objects.exists()


def test_the_frame_page_may_be_framed_by_an_allowed_origin_only():
    response = Client().get("/chat/frame/", {"origin": HOST})
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert f"frame-ancestors {HOST}" in policy and "'none'" not in policy.split("frame-ancestors")[1]
    assert "X-Frame-Options" not in response
    body = response.content.decode()
    assert 'id="lw"' in body and 'data-identify-url="/chat/identify/"' in body
    assert 'class="site-header"' not in body
    assert "frame-ancestors 'none'" in Client().get("/")["Content-Security-Policy"]  # our other pages: never


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "",
        "http://127.0.0.1:8765/",
        "HTTP://127.0.0.1:8765",
        "http://127.0.0.1:8765 https://evil.example",
    ],
    ids=["other-site", "none", "trailing-slash", "not-as-browsers-write-it", "two-origins"],
)
def test_the_frame_page_refuses_other_origins(origin):
    response = Client().get("/chat/frame/", {"origin": origin})
    assert response.status_code == 403
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert 'id="lw"' not in response.content.decode()
