"""Talking to the assistant in tests, the way a channel does: store first, then respond."""

from assistant import services
from assistant.models import HelpArticle
from tickets import services as ticket_services
from tickets.models import Conversation

ARTICLES = [
    ("reset-password", "How do I reset my password?",
     "If you forgot your password, open the login page and click **Forgot password**.\n\n"
     "We email you a reset link that works for one hour. Check your spam folder if it doesn't arrive."),
    ("cancel-subscription", "How do I cancel my subscription?",
     "Go to **Settings > Billing** and click **Cancel plan**.\n\nYou keep access until the end of the billing period."),
    ("refund-policy", "What is the refund policy?",
     "Refunds for annual plans are possible within 14 days of purchase. Refunds are handled by a person from "
     "the Loophole team: Loophole AI will offer to open a ticket for you."),
    ("export-data", "How do I export my data?",
     "Open **Settings > Data** and choose **Export**. We prepare a ZIP file with your projects as CSV and email "
     "you a download link when it is ready."),
]  # fmt: skip


def add_articles() -> None:
    for slug, title, body in ARTICLES:
        HelpArticle.objects.update_or_create(slug=slug, defaults={"title": title, "body": body})


def chat(customer, channel: str = "chat") -> Conversation:
    return ticket_services.open_conversation(channel=channel, customer=customer, sender=getattr(customer, "email", ""))


def say(conversation: Conversation, text: str, *, hands_off: bool | None = None) -> services.Reply:
    if hands_off is None:
        hands_off = conversation.channel == "chat"
    message = services.receive(conversation.pk, text)
    return services.respond(message.pk, hands_off=hands_off)
