"""What the assistant says, shared by both engines."""

from assistant.shapes import TicketView

STATUS_MEANING = {
    "Submitted": "it has been created and is waiting to be picked up",
    "In Progress": "a team member is actively working on it",
    "Waiting on Customer": "the team needs a response from you before continuing",
    "Resolved": "it has been completed",
}
NOT_FOUND = "I can't find that ticket. Please check the ticket ID: it looks like LH-7K3M-QX9P."
NO_ACCOUNT_TICKETS = (
    "I can only look up tickets for a Loophole account, and I couldn't match this conversation to one. "
    "Write from the email address or phone number on your account, or use the live chat after logging in."
)
NO_ACCOUNT_OFFER = (
    "This needs a person from the Loophole team, but I can't open a ticket because I couldn't match this "
    "conversation to a Loophole account. Write from the email address or phone number on your account, or use "
    "the live chat after logging in, and I'll open one for you."
)
OFFER_REASONS = {
    "refund": "Refunds are handled by a person from the Loophole team.",
    "billing": "Billing problems like this are handled by a person from the Loophole team.",
    "access": "To get you back into your account, someone from the Loophole team needs to verify it's you.",
    "data_loss": "Lost data needs a person from the Loophole team to look into it.",
    "privacy": "Privacy and legal requests are handled by a person from the Loophole team.",
    "persistent": "Since the usual fixes haven't solved it, a person from the Loophole team should look into it.",
    "company_error": "Putting this right needs a person from the Loophole team.",
    "disputed": "A payment you didn't make, or cash a machine didn't pay out, needs a person from the Loophole team.",
    "overdue": "Chasing money or credit that should have reached you needs a person from the Loophole team.",
    "no_reply": "I'm sorry nobody got back to you. A person from the Loophole team should pick this up.",
    "human": "I can hand this to a person from the Loophole team.",
    "ticket_request": "I can hand this to a person from the Loophole team.",
}
OFFER_QUESTION = "Would you like me to open a support ticket? Please answer yes or no."
DECLINED = "OK, I won't open a ticket. Is there anything else I can help you with?"
DECLINED_BRIEF = "OK, I won't open a ticket."
ENDED_OFFER = "This conversation has ended, so I can't open a ticket from it. Get in touch again and I'll help."
CLARIFY = (
    "I want to make sure I get this right. Could you tell me a bit more: what were you trying to do, and what "
    "happened instead?"
)
FALLBACK = "Thanks, I've got your message. I'm having trouble answering right now; we'll reply shortly."
SMALLTALK = {
    "greeting": "Hi! I'm Loophole AI. What can I help you with?",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "resolved": "Glad it's working now! Is there anything else I can help with?",
    "bye": "Thanks for contacting Loophole. Have a great day!",
    "ok": "Is there anything else I can help with?",
    "fed_up": (
        "I'm sorry I haven't been more help. Tell me what you need in a sentence or two and I'll look for the "
        "answer, or offer to pass it to a person from the Loophole team."
    ),
    "how_are_you": "I'm doing well, thanks for asking! What can I help you with today?",
    "who": (
        "I'm Loophole AI, the Loophole support assistant. I answer from our help centre, look up your tickets, "
        "and hand anything I can't solve to a person from the Loophole team."
    ),
}


def offer_text(reason: str) -> str:
    lead = OFFER_REASONS.get(
        reason, "I'm sorry, I couldn't solve this one myself. A person from the Loophole team can."
    )
    return f"{lead} {OFFER_QUESTION}"


def reply_text(ticket: TicketView) -> str:
    """The team's latest reply on a ticket, or that nobody has replied yet ("" for a resolved one)."""
    if ticket.latest_reply:
        return f"The team's latest reply, on {ticket.latest_reply_at}: \u201c{ticket.latest_reply}\u201d"
    return "" if ticket.resolved_at else "Nobody from the team has replied yet."


def describe_ticket(ticket: TicketView) -> str:
    meaning = STATUS_MEANING.get(ticket.status, "")
    text = f"Ticket {ticket.reference}, \u201c{ticket.title}\u201d, is {ticket.status}: {meaning}."
    if reply := reply_text(ticket):
        text += f" {reply}"
    if ticket.resolved_at:
        text += f" It was resolved on {ticket.resolved_at}. Action taken: {ticket.action_taken}"
    return text


def list_tickets(tickets: list[TicketView], withheld: int | None = None) -> str:
    """The customer's tickets; with `withheld`, only how many more are open (caller ID alone)."""
    if withheld is not None:
        listed = [list_tickets(tickets)] if tickets else []
        return "\n".join([*listed, withheld_text(withheld, more=bool(tickets))]).strip()
    if not tickets:
        return "You don't have any support tickets."
    lines = [
        f"- {t.reference}: {t.title} ({t.status})" + (f". {r}" if (r := reply_text(t)) else "") for t in tickets[:5]
    ]
    more = f"\n…and {len(tickets) - 5} more." if len(tickets) > 5 else ""
    resolved = [t for t in tickets[:5] if t.resolved_at]
    details = "".join(
        f"\n{t.reference} was resolved on {t.resolved_at}. Action taken: {t.action_taken}" for t in resolved
    )
    return "Your support tickets:\n" + "\n".join(lines) + more + details


def withheld_text(count: int, *, more: bool = False) -> str:
    """What caller ID alone may tell about the open tickets: how many, never what they are."""
    if count == 0:
        return "" if more else "I can't see any open tickets for you. To hear about a ticket, say its ticket ID."
    tickets = f"{count} {'more ' if more else ''}open ticket{'s' if count > 1 else ''}"
    return (
        f"I can see you have {tickets}. To hear about one, say its ticket ID: it's in the email we sent "
        "when the ticket was opened."
    )


# For a model: what it may say about the tickets list_my_tickets leaves out.
WITHHELD_NOTE = (
    "The caller is known by their phone number alone. Only tickets they said the ID of are listed; "
    "more_open_tickets counts the others. Tell them that number and that they can say a ticket's ID to "
    "hear about it; say nothing else about those tickets."
)


def reopened_text(reference: str, channel: str) -> str:
    """Said when the customer's message reopened their resolved ticket."""
    where = "by text message or email" if channel == "voice" else "here"  # a call's staff replies go by SMS or email
    return f"Your ticket {reference} is open again; our team will reply {where}."


def created_text(reference: str, title: str, summary: str, hands_off: bool) -> str:
    text = (
        f"I've opened support ticket {reference}: \u201c{title}\u201d. Summary: {summary} "
        "A confirmation email is on its way to the address on your account."
    )
    if hands_off:
        text += (
            " A person from the Loophole team will reply right here; anything else you send in this chat goes "
            "straight to them. For help with something else, start a new conversation."
        )
    else:
        text += " A person from the Loophole team will pick it up, and you can ask me for its status any time."
    return text
