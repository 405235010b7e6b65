"""Messages stored while the broker was down are answered by the beat sweeper."""

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from channels_io import tasks
from tests.assistant.helpers import add_articles
from tests.factories import UserFactory
from tickets import services as ticket_services
from tickets.models import Message

pytestmark = pytest.mark.django_db


def test_an_unanswered_message_older_than_a_minute_is_answered_once(time_machine):
    add_articles()
    time_machine.move_to(timezone.now(), tick=False)
    conversation = ticket_services.open_conversation(channel="chat", customer=UserFactory())
    message, _ = ticket_services.store_customer_message(conversation.pk, "how do I reset my password?")
    assert tasks.sweep_unanswered() == 0  # its own task may still be on the way

    time_machine.shift(120)
    assert tasks.sweep_unanswered() == 1
    message.refresh_from_db()
    assert message.handled_at is not None
    assert Message.objects.filter(reply_to=message).count() == 1
    assert tasks.sweep_unanswered() == 0


def test_the_sweeper_is_on_the_beat_schedule():
    assert PeriodicTask.objects.get(task="channels_io.sweep_unanswered").interval.every == 1
