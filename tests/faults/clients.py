"""What customers and Twilio do over HTTP against the app's real server, and reading a worker's log."""

import re
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from tests.channels_io.sms.twilio_helpers import payload
from tests.conftest import ServiceProcess
from tests.faults.conftest import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER


class Widget:
    """A logged-in customer's browser, as the widget uses the JSON endpoints (session + CSRF)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.http = requests.Session()

    def _csrf(self) -> dict[str, str]:
        return {"X-CSRFToken": self.http.cookies.get("csrftoken", "")}

    def login(self, email: str, password: str) -> None:
        self.http.get(f"{self.origin}/accounts/login/", timeout=10)
        form = {"username": email, "password": password, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]}
        response = self.http.post(f"{self.origin}/accounts/login/", data=form, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:500]

    def new_conversation(self) -> int:
        response = self.http.post(f"{self.origin}/chat/conversations/", json={}, headers=self._csrf(), timeout=10)
        assert response.status_code == 201, response.text[:500]
        return response.json()["id"]

    def say(self, conversation_id: int, text: str) -> requests.Response:
        url = f"{self.origin}/chat/conversations/{conversation_id}/messages/"
        return self.http.post(url, json={"text": text}, headers=self._csrf(), timeout=15)

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.origin}/chat/conversations/{conversation_id}/messages/", timeout=10)
        assert response.status_code == 200, response.text[:500]
        return response.json()["messages"]


def text_in(origin: str, sid: str, number: str, body: str) -> requests.Response:
    """Twilio delivering an inbound text to the server's webhook, signed with the account's token."""
    url = f"{origin}/channels/sms/inbound"
    form = payload("sms_inbound", MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, From=number, To=OUR_NUMBER, Body=body)
    form["AccountSid"] = ACCOUNT_SID
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=15)


def succeeded(process: ServiceProcess, task: str) -> int:
    """How many runs of `task` the worker logged as succeeded."""
    return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", process.output()))
