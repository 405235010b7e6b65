"""The worker's side of an inbound text: filing the text the webhook kept, then answering it."""

from celery import shared_task

from assistant import services as assistant
from channels_io.answering import answer
from channels_io.sms import adapter
from loophole.celery import enqueue_on_commit
from tickets.models import Message


@shared_task(name="channels_io.receive_text", acks_late=True)
def receive_text(inbound_id: int, sid: str) -> None:
    """File one inbound text into its conversation, then answer it here when the engine answers now
    (assistant.answers_now), else queue its answer. Safe twice."""
    message = adapter.file_text(inbound_id) or Message.objects.filter(channel=adapter.CHANNEL, external_id=sid).first()
    if message is None or message.handled_at is not None:
        return
    if assistant.answers_now():
        answer(message.pk)
    else:
        enqueue_on_commit(answer, message.pk)
