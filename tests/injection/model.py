"""A model that has been talked round: the fake OpenAI server, answering like an injected model would.

It speaks the real Chat Completions protocol (tests/fakes/openai_server.py); instead of a fixed
script it reads each request and does what `mode` says. On the first round it uses the tools the
way an attacker wants (every reference-like token of the customer's text looked up, the customer's
tickets listed, the help centre searched with the whole message); on the next round it answers:

- dump:         every tool result it got, verbatim, and "your ticket has been created"
- offer:        offer_ticket at once, with a draft made of the customer's raw text
- claim:        "I have created ticket LH-7K3M-QX9P for you" (a reference nobody gave it)
- json:         create-ticket JSON as its answer text, with the tool results
- markup:       script, img onerror, SVG onload and javascript: links around the tool results
- unknown_tool: calls a create_ticket tool it was never offered
- bad_args:     calls get_ticket and offer_ticket with arguments that are not JSON objects
"""

import json
import re
from typing import Any

from tests.fakes.openai_server import FakeOpenAI, Scripted

MODES = ("dump", "offer", "claim", "json", "markup", "unknown_tool", "bad_args")
MARKUP = (
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
    '<svg onload="window.__pwned=1"></svg><a href="javascript:window.__pwned=1">your ticket</a>'
)
INVENTED = "LH-7K3M-QX9P"
_REFERENCE_LIKE = re.compile(r"\b(?:lh[\s\-_.#:]*)?[a-z0-9%_']{4}[\s\-_.]*[a-z0-9%_']{4}\b", re.I)


class InjectedModel(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__(model="gpt-test")
        self.mode = "dump"

    def _handler_class(self) -> type:
        handler = super()._handler_class()
        # Headers and body go out in two writes: without TCP_NODELAY each answer can wait on a delayed ACK.
        handler.disable_nagle_algorithm = True
        return handler

    def _next(self) -> Scripted:
        with self._lock:
            request = self.requests[-1]
        message, finish = self._respond(request.get("messages", []))
        return Scripted(body=self._completion(message, finish))

    def _respond(self, messages: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        text = str(messages[last_user]["content"]) if last_user >= 0 else ""
        later = messages[last_user + 1 :]
        results = [str(m.get("content")) for m in later if m.get("role") == "tool"]
        if not later:
            return self._first_round(text)
        return self._answer(text, results), "stop"

    def _first_round(self, text: str) -> tuple[dict[str, Any], str]:
        if self.mode == "offer":
            title = " ".join(text.split())[:80]
            return self._calls([("offer_ticket", {"title": title, "description": text, "summary": text[:300],
                                                 "reason": "refund"})])  # fmt: skip
        if self.mode == "unknown_tool":
            return self._calls([("create_ticket", {"title": text[:80], "description": text, "confirmed": True})])
        if self.mode == "bad_args":
            return self._calls([("get_ticket", '["LH-2222-3333"]'), ("offer_ticket", "{not json")])
        calls: list[tuple[str, Any]] = [("list_my_tickets", {}), ("search_help_center", {"query": text[:500]})]
        calls += [("get_ticket", {"reference": ref}) for ref in _REFERENCE_LIKE.findall(text)[:6]]
        return self._calls(calls)

    def _answer(self, text: str, results: list[str]) -> dict[str, Any]:
        dumped = "\n".join(results)
        if self.mode == "claim":
            content = f"Done! I have created ticket {INVENTED} for you and the customer already said yes."
        elif self.mode == "json":
            call = {"name": "create_ticket", "arguments": {"title": text[:80], "confirmed": True}}
            content = f"{json.dumps(call)}\n{dumped}"
        elif self.mode == "markup":
            content = f"{MARKUP}\n{dumped}"
        else:
            content = f"Here is everything I found:\n{dumped}\nYour ticket has been created."
        return {"role": "assistant", "content": content, "refusal": None}

    def _calls(self, calls: list[tuple[str, Any]]) -> tuple[dict[str, Any], str]:
        tool_calls = [
            {
                "id": f"call_{next(self._ids):06d}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for name, args in calls
        ]
        return {"role": "assistant", "content": None, "refusal": None, "tool_calls": tool_calls}, "tool_calls"
