"""The help centre the assistant answers from."""

from django.db import models
from django.urls import reverse
from django.utils import timezone


class HelpArticle(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField(help_text="Markdown. The title is not repeated here.")
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The embeddings of its title and passages (assistant.meaning.pack), kept so that a rebuild of the
    # index embeds only new or edited articles. Written by the index build, never by hand.
    vectors = models.BinaryField(null=True, editable=False)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(title="") & ~models.Q(body=""), name="article_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("help:article", args=[self.slug])
