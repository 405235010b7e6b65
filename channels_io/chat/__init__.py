from django.conf import settings
from django.urls import reverse


def conversation_link(conversation_id: int) -> str:
    """The absolute link (on PUBLIC_URL) that opens this chat conversation in its customer's widget,
    after log-in if needed: /chat/open/<id>/, which leads to the home page's `#conversation=<id>`."""
    return settings.PUBLIC_URL + reverse("chat:open", args=[conversation_id])
