"""The help centre's articles: Markdown rendering for the pages and the `import_help_articles` importer.

An article file is Markdown, one article per file: the first line starting with `# ` is the title,
the rest is the body, and the file name (slugified) is the slug, so re-importing a file updates its
article instead of adding another. With `sync`, the directory is the whole help centre: articles
whose slug has no file there are removed.
"""

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import nh3
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from assistant.models import HelpArticle

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 200 * 1024
TITLE_MAX_LENGTH = HelpArticle._meta.get_field("title").max_length or 200
SLUG_MAX_LENGTH = HelpArticle._meta.get_field("slug").max_length or 200

# What Markdown (with "extra" and "sane_lists") produces that an article needs; everything else is dropped.
ALLOWED_TAGS = frozenset(
    {
        *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code"),
        *("ul", "ol", "li", "dl", "dt", "dd", "strong", "em", "b", "i", "abbr", "sup", "div", "a"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")  # "# Title ##" is Markdown for "# Title"
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
# Removed with their content, not just unwrapped: their text is never meant to be read.
DROPPED_WITH_CONTENT = frozenset({"script", "style"})


class ArticleFormatError(ValueError):
    """An article file that cannot be imported; the message names the file and says why."""


class NoArticleFiles(ValueError):
    """A directory with no `*.md` files: nothing to import (and, with sync, it would empty the help centre)."""


@dataclass(frozen=True)
class ParsedArticle:
    title: str
    slug: str
    body: str


@dataclass(frozen=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)


def render_markdown(body: str) -> str:
    """Article Markdown as sanitised HTML (safe to mark_safe): no scripts, handlers or javascript: links."""
    html = markdown.markdown(
        body,
        extensions=["extra", "sane_lists"],
        extension_configs={"extra": {"tables": {"use_align_attribute": True}}},
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer",
    )


def parse_article_file(path: Path) -> ParsedArticle:
    """Read one article file. Raises ArticleFormatError naming the file if it is unreadable or malformed."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArticleFormatError(f"{name}: {size} bytes is over the {MAX_FILE_BYTES // 1024} KB limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleFormatError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_FILE_BYTES:  # grew between stat() and read
        raise ArticleFormatError(f"{name}: over the {MAX_FILE_BYTES // 1024} KB limit")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleFormatError(f"{name}: not valid UTF-8 (bad byte at offset {exc.start})") from exc
    if "\x00" in text:
        raise ArticleFormatError(f"{name}: contains NUL characters")

    lines = text.splitlines()
    title_at = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if title_at is None:
        raise ArticleFormatError(f"{name}: no title (the first line starting with '# ')")
    if any(line.strip() for line in lines[:title_at]):
        # Refused rather than dropped: text above the title would silently vanish from the article.
        raise ArticleFormatError(f"{name}: text before the title line (line {title_at + 1})")
    title = _CLOSING_HASHES.sub("", lines[title_at][2:]).strip()
    if not title:
        raise ArticleFormatError(f"{name}: the title line is empty")
    if len(title) > TITLE_MAX_LENGTH:
        raise ArticleFormatError(f"{name}: the title is {len(title)} characters, over {TITLE_MAX_LENGTH}")

    body = "\n".join(lines[title_at + 1 :]).strip("\n").rstrip()
    if not body.strip():
        raise ArticleFormatError(f"{name}: the body after the title is empty")

    slug = slugify(path.stem)
    if not slug:
        raise ArticleFormatError(f"{name}: the file name gives no slug (use letters, digits or hyphens)")
    if len(slug) > SLUG_MAX_LENGTH:
        raise ArticleFormatError(f"{name}: the slug is {len(slug)} characters, over {SLUG_MAX_LENGTH}")
    return ParsedArticle(title=title, slug=slug, body=body)


def import_articles(directory: Path, *, sync: bool = False) -> ImportResult:
    """Create or update one article per `*.md` file in `directory`, by slug; idempotent.

    Each file commits on its own; a bad file is reported in `errors` and the others still import.
    Unchanged articles are not saved (their `updated_at` stays). With `sync`, the articles whose slug
    has no file in `directory` are then deleted in one transaction, but only when no file was refused
    (a broken file must not delete its article). Raises NotADirectoryError or NoArticleFiles, having
    touched nothing.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise NoArticleFiles(f"{directory} has no .md files to import")
    created = updated = unchanged = removed = 0
    errors: list[str] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            if not path.is_file():
                raise ArticleFormatError(f"{path.name}: not a regular file")
            article = parse_article_file(path)
            if article.slug in seen:
                raise ArticleFormatError(f"{path.name}: same slug {article.slug!r} as {seen[article.slug]}")
            seen[article.slug] = path.name
            outcome = _save(article)
        except ArticleFormatError as exc:
            logger.warning("help article file refused: %s", path.name)
            errors.append(str(exc))
            continue
        except IntegrityError:
            logger.warning("help article file refused by the database: %s", path.name)
            errors.append(f"{path.name}: the database refused the article (a concurrent import?)")
            continue
        if outcome == "created":
            created += 1
        elif outcome == "updated":
            updated += 1
        else:
            unchanged += 1
    if sync and not errors:
        removed = _delete_articles_except(set(seen))
    logger.info(
        "help articles imported from %s: %d created, %d updated, %d unchanged, %d removed, %d refused",
        directory,
        created,
        updated,
        unchanged,
        removed,
        len(errors),
    )
    return ImportResult(created=created, updated=updated, unchanged=unchanged, removed=removed, errors=errors)


@transaction.atomic
def _delete_articles_except(slugs: set[str]) -> int:
    """Delete every article (published or not) whose slug is not in `slugs`; returns how many.

    A queryset delete, not a raw one: Django sends post_delete per row, so the search index forgets them.
    """
    _total, per_model = HelpArticle.objects.exclude(slug__in=slugs).delete()
    return per_model.get(HelpArticle._meta.label, 0)


@transaction.atomic
def _save(article: ParsedArticle) -> str:
    """Write one parsed article; returns "created", "updated" or "unchanged". Leaves is_published alone."""
    current = HelpArticle.objects.select_for_update().filter(slug=article.slug).values("title", "body").first()
    if current == {"title": article.title, "body": article.body}:
        return "unchanged"
    _, is_new = HelpArticle.objects.update_or_create(
        slug=article.slug, defaults={"title": article.title, "body": article.body}
    )
    return "created" if is_new else "updated"
