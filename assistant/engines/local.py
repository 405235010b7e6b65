"""The built-in local assistant: a learned reading of the message, help-centre retrieval, no network.

How a message is said (assistant.intents: a question, a report of a problem, a request only staff can
carry out, a status question, small talk) decides between answering, offering a ticket, looking up
tickets and asking one clarifying question; the help centre supplies the answer. The rules in
assistant.language take what must never depend on a model: yes/no, ticket IDs, an explicit request for
a person or a ticket, and "that didn't help" after an answer.
"""

from assistant import drafting, grievances, intents, language, passages, references, vocabulary, wording
from assistant.engines.base import Decision, Kind, Link, Outcome, Request, Tools
from assistant.status import is_status_request

# Retrieval confidence (assistant.passages.Hit.score) from which a message is answered from the help
# centre: a statement at CONFIDENT, a plain question at ASKS_CONFIDENT, a problem described again after a
# clarifying question only at STRONG (else it is offered).
CONFIDENT = 0.2
ASKS_CONFIDENT = 0.15
STRONG = 0.5
# A plain question is also answered from an article this close in meaning (assistant.passages.Hit.meaning),
# however few of its words the article uses ("how old do u need to be to make an account").
MEANING_CONFIDENT = 0.5
# The classifier's probability of "offer" from which a ticket is offered.
OFFER_AT = 0.9
# From this probability of "offer", a report whose best passage says a person handles it is offered.
MAYBE_OFFER_AT = 0.55
# A statement more likely a report of a problem than a question, from this probability, is offered unless
# the help centre's best answer clearly lets the customer solve it.
LEANS_OFFER_AT = 0.7
# Channels whose answers quote only the passage that answers.
BRIEF_CHANNELS = frozenset({"voice", "sms"})
# The classifier's probability of a status question or small talk from which it is taken for one.
STATUS_AT = 0.5
SMALLTALK_AT = 0.5
# What the hand-written readers find that always needs a person (each was right on every such message of
# the development domains): no classifier is asked.
ALWAYS_OFFER = frozenset(
    {
        "human",
        "ticket_request",
        "persistent",
        "privacy",
        "data_loss",
        "company_error",
        "disputed",
        "overdue",
        "no_reply",
    }
)


class LocalEngine:
    name = "local"
    answers_inline = True

    def __init__(self, model: intents.Model | None = None) -> None:
        self._model = model

    @property
    def model(self) -> intents.Model:
        return self._model or intents.shipped()

    def decide(self, request: Request, tools: Tools) -> Decision:
        text = request.text.strip()
        last = request.last_assistant_kind
        own_hits = tools.search_help(text, limit=3)
        scores = self.model.scores(text, passages.help_context(own_hits))

        chat = language.smalltalk(text) or (
            scores.get("smalltalk", 0) >= SMALLTALK_AT and language.smalltalk_kind(text)
        )
        if chat == "fed_up" and last in {Outcome.ANSWERED, Outcome.CLARIFIED}:
            chat = ""  # "you're useless" after an answer: it did not help
        if chat:
            return Decision(Kind.SMALLTALK, wording.SMALLTALK[chat])

        status = self._status(text, tools, scores)
        if status is not None:
            return status

        reason = language.needs_person(text)
        if reason not in ALWAYS_OFFER:
            reason = grievances.grievance(text) or reason
        if reason in ALWAYS_OFFER:
            return self.offer(request, reason)
        if last in {Outcome.ANSWERED, Outcome.CLARIFIED} and (
            language.didnt_help(text) or language.confirmation(text) == language.Answer.NO
        ):
            return self.offer(request, reason or "unresolved")
        offer = scores.get("offer", 0)
        if offer >= OFFER_AT:
            return self.offer(request, reason or "unresolved")

        query = text
        if last == Outcome.CLARIFIED:
            # The clarification completes the question before it.
            earlier = [t.text for t in request.history if t.author == "customer"][-1:]
            query = " ".join([*earlier, text])
        top = max(scores, key=scores.__getitem__)
        # A topic named in a word or two ("my card", "the app") is too little to answer from.
        vague = vocabulary.is_vague(query) or (
            last != Outcome.CLARIFIED and (top == "clarify" or language.is_fragment(text))
        )
        hits = [] if vague else (own_hits if query == text else tools.search_help(query, limit=3))
        asks = scores.get("answer", 0) >= 0.5 and ("?" in text or bool(language.INFORMATIONAL.search(text.lower())))
        # A plain question is answered on a weaker match than a statement; after a clarifying question, a
        # problem described again is answered only on a strong one (else it is offered).
        knowing = language.wants_to_know(text)  # asks a question of its own, and nobody to act
        confident = ASKS_CONFIDENT if asks else CONFIDENT
        if last == Outcome.CLARIFIED and not asks:
            confident = STRONG
        if hits and offer >= LEANS_OFFER_AT and offer > scores.get("answer", 0) and not asks and not knowing:
            best = hits[0]
            answering = best.answering
            self_service = passages.says_self_service(answering) and not passages.says_staff_handle(answering)
            if not (self_service and best.score >= STRONG):
                # A report of a problem rather than a question, which the help centre does not clearly
                # let the customer solve alone.
                return self.offer(request, reason or "unresolved")
        if hits and (hits[0].score >= confident or (asks and hits[0].meaning >= MEANING_CONFIDENT)):
            best = hits[0]
            if offer >= MAYBE_OFFER_AT and not knowing and passages.says_staff_handle(best.passage):
                # A report the help centre itself says a person must handle (anywhere in what would be
                # quoted): offer, don't quote it back.
                return self.offer(request, reason or "unresolved")
            # A caller listens to every word and a text message is paid by the segment: the one passage that
            # answers. In the chat and by email the close runners-up come too.
            passage = best.answering if request.channel in BRIEF_CHANNELS else best.passage
            answer = f"From our help centre, \u201c{best.title}\u201d:\n\n{passage}"
            return Decision(Kind.ANSWER, answer, links=(Link(best.title, tools.article_url(best.slug)),))
        if last == Outcome.CLARIFIED or offer >= MAYBE_OFFER_AT or (last == Outcome.DECLINED and reason):
            # After a declined offer, a matter a person handles (a refund, a charge, access) asked for again
            # is offered again rather than questioned.
            return self.offer(request, reason or "unresolved")
        return Decision(Kind.CLARIFY, wording.CLARIFY, links=self._suggestions(hits, tools))

    def _status(self, text: str, tools: Tools, scores: dict[str, float]) -> Decision | None:
        found = references.find_references(text)
        asks = is_status_request(text, tools.product_nouns())
        if not found and not asks and scores.get("status", 0) < STATUS_AT:
            return None
        tickets = tools.my_tickets()
        if tickets is None:
            return Decision(Kind.STATUS, wording.NO_ACCOUNT_TICKETS)
        if not found:
            return Decision(Kind.STATUS, wording.list_tickets(tickets, withheld=tools.withheld_tickets()))
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
