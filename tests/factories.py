"""Test data, built through the services where there are services."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets import services
from tickets.models import Conversation, Ticket

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Faker("name")
    email_verified_at = factory.LazyFunction(timezone.now)  # UserFactory(email_verified_at=None): not yet
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    email = factory.Sequence(lambda n: f"agent{n}@loophole.localhost")
    is_staff = True

    @factory.post_generation
    def support_group(obj, create, extracted, **kwargs):
        if create:
            from django.contrib.auth.models import Group

            obj.groups.add(Group.objects.get(name="Support staff"))


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    customer = factory.SubFactory(UserFactory)
    channel = "chat"


def make_ticket(
    customer=None, *, channel: str = "chat", title: str = "Refund for duplicate charge", messages: int = 1
) -> Ticket:
    """A ticket as the assistant would open it: a conversation with customer messages, then create_ticket."""
    conversation = ConversationFactory(customer=customer or UserFactory(), channel=channel)
    for i in range(messages):
        services.store_customer_message(conversation.pk, f"I was charged twice for invoice INV-{1000 + i}.")
    return services.create_ticket(
        conversation.pk,
        title=title,
        description="I was charged twice (USD 120) for the annual plan on 3 November, invoice INV-1000.",
        summary="Duplicate annual-plan charge; customer wants one refunded.",
    )
