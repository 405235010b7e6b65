"""The built-in local assistant: help-centre retrieval and deterministic rules, no network."""

from assistant import drafting, language, references, retrieval, wording
from assistant.engines.base import Decision, Kind, Link, Outcome, Request, Tools

# Below this retrieval confidence the assistant asks one clarifying question, then offers a ticket.
CONFIDENT = 0.5


class LocalEngine:
    name = "local"
    answers_inline = True

    def decide(self, request: Request, tools: Tools) -> Decision:
        text = request.text.strip()
        last = request.last_assistant_kind

        chat = language.smalltalk(text)
        if chat:
            return Decision(Kind.SMALLTALK, wording.SMALLTALK[chat])

        status = self._status(text, tools)
        if status is not None:
            return status

        reason = language.needs_person(text)
        if reason and reason not in language.SOFT_INTENTS:
            return self.offer(request, reason)
        if last in {Outcome.ANSWERED, Outcome.CLARIFIED} and (
            language.didnt_help(text) or language.confirmation(text) == language.Answer.NO
        ):
            return self.offer(request, reason or "unresolved")

        query = text
        if last == Outcome.CLARIFIED:
            # The clarification completes the question before it.
            earlier = [t.text for t in request.history if t.author == "customer"][-1:]
            query = " ".join([*earlier, text])
        hits = [] if retrieval.is_vague(query) else tools.search_help(query, limit=3)
        if hits and hits[0].score >= CONFIDENT:
            best = hits[0]
            answer = f"From our help centre, \u201c{best.title}\u201d:\n\n{best.passage}"
            return Decision(Kind.ANSWER, answer, links=(Link(best.title, tools.article_url(best.slug)),))
        if last == Outcome.CLARIFIED or reason:
            if last != Outcome.CLARIFIED and reason in language.SOFT_INTENTS:
                return Decision(Kind.CLARIFY, wording.CLARIFY)
            return self.offer(request, reason or "unresolved")
        return Decision(Kind.CLARIFY, wording.CLARIFY, links=self._suggestions(hits, tools))

    def _status(self, text: str, tools: Tools) -> Decision | None:
        found = references.find_references(text)
        if not found and not language.is_status_request(text):
            return None
        tickets = tools.my_tickets()
        if tickets is None:
            return Decision(Kind.STATUS, wording.NO_ACCOUNT_TICKETS)
        if not found:
            return Decision(Kind.STATUS, wording.list_tickets(tickets))
        parts = []
        for reference in found[:3]:
            ticket = tools.ticket(reference)
            parts.append(wording.describe_ticket(ticket) if ticket else wording.NOT_FOUND)
        return Decision(Kind.STATUS, "\n".join(dict.fromkeys(parts)))

    def offer(self, request: Request, reason: str) -> Decision:
        if not request.customer_known:
            return Decision(Kind.ANSWER, wording.NO_ACCOUNT_OFFER)
        draft = drafting.draft(request.history, request.text, reason, request.channel)
        return Decision(Kind.OFFER, wording.offer_text(reason), draft=draft, reason=reason)

    @staticmethod
    def _suggestions(hits: list, tools: Tools) -> tuple[Link, ...]:
        return tuple(Link(h.title, tools.article_url(h.slug)) for h in hits[:2] if h.score >= CONFIDENT / 2)
