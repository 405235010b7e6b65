"""The help centre pages: the article list with search, and one article."""

import logging

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_safe

from assistant.help import render_markdown
from assistant.models import HelpArticle
from assistant.retrieval import search_articles

logger = logging.getLogger(__name__)

QUERY_MAX_LENGTH = 200
TEASER_LENGTH = 160
SEARCH_LIMIT = 10


class HelpSearchForm(forms.Form):
    q = forms.CharField(
        label="Search the help centre",
        max_length=QUERY_MAX_LENGTH,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "e.g. refund, password, ticket status"}),
        error_messages={"max_length": "Please keep your search under %(limit_value)d characters."},
    )


def teaser(body: str, length: int = TEASER_LENGTH) -> str:
    """The first `length` characters of an article's text, without Markdown or HTML, for the list."""
    text = " ".join(strip_tags(render_markdown(body)).split())
    return Truncator(text).chars(length)


@require_safe
def help_index(request: HttpRequest) -> HttpResponse:
    """All published articles A-Z, or with `?q=` the search results; an invalid query is a 400."""
    form = HelpSearchForm(request.GET)
    if not form.is_valid():
        logger.warning("help search refused: invalid query")
        context = {"form": form, "query": "", "results": [], "articles": []}
        return render(request, "help/index.html", context, status=400)
    query = form.cleaned_data["q"]
    if query:
        return render(
            request,
            "help/index.html",
            {"form": form, "query": query, "results": search_articles(query, limit=SEARCH_LIMIT), "articles": []},
        )
    articles = [
        {"title": article.title, "url": article.get_absolute_url(), "teaser": teaser(article.body)}
        for article in HelpArticle.objects.filter(is_published=True).order_by("title").only("title", "slug", "body")
    ]
    return render(request, "help/index.html", {"form": form, "query": "", "results": [], "articles": articles})


@require_safe
def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    """One published article rendered from Markdown; unpublished or unknown slugs are a 404."""
    article = get_object_or_404(HelpArticle, slug=slug, is_published=True)
    # render_markdown sanitises with nh3 (allow-listed tags, attributes and URL schemes), so this is safe.
    body_html = mark_safe(render_markdown(article.body))  # noqa: S308
    return render(request, "help/article.html", {"article": article, "body_html": body_html})
