from django.urls import path

from channels_io.chat import embed, views

app_name = "chat"

urlpatterns = [
    path("conversations/", views.conversations, name="conversations"),
    path("conversations/<int:conversation_id>/messages/", views.messages_endpoint, name="messages"),
    path("conversations/<int:conversation_id>/poll/", views.poll, name="poll"),
    path("conversations/<int:conversation_id>/events/", views.events, name="events"),
    path("tickets/", views.tickets, name="tickets"),
    path("identify/", embed.identify, name="identify"),
    path("frame/", embed.frame, name="frame"),
    path("open/<int:conversation_id>/", embed.open_conversation, name="open"),
]
