from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"
    verbose_name = "Loophole AI"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from assistant.models import HelpArticle
        from assistant.retrieval import forget_index

        post_save.connect(forget_index, sender=HelpArticle, dispatch_uid="assistant.forget_index.save")
        post_delete.connect(forget_index, sender=HelpArticle, dispatch_uid="assistant.forget_index.delete")
