"""The help centre: importing Markdown articles, and the /help/ pages with search."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from assistant.help import ArticleFormatError, NoArticleFiles, import_articles, parse_article_file, render_markdown
from assistant.models import HelpArticle

SHIPPED_ARTICLES = Path(settings.BASE_DIR) / "help_articles"

REFUND_ARTICLE = """# How do refunds work?

Refunds go back to the card you paid with.

- Monthly plans: refunded within 14 days.
- Annual plans: see [the billing page](https://example.com/billing).
"""


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def make_article(slug: str, title: str, body: str, *, is_published: bool = True) -> HelpArticle:
    return HelpArticle.objects.create(slug=slug, title=title, body=body, is_published=is_published)


# Importing


def test_parse_article_file_takes_the_title_from_the_first_heading_and_the_slug_from_the_file_name(tmp_path):
    path = write(tmp_path, "Refunds And Returns.md", "\n\n" + REFUND_ARTICLE)

    article = parse_article_file(path)

    assert article.title == "How do refunds work?"
    assert article.slug == "refunds-and-returns"
    assert article.body.startswith("Refunds go back")


@pytest.mark.django_db
def test_import_creates_one_article_per_markdown_file(tmp_path):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)
    write(tmp_path, "passwords.md", "# Resetting your password\n\nUse the *Forgot password* link.\n")
    write(tmp_path, "notes.txt", "# Not an article\n\nIgnored.\n")

    result = import_articles(tmp_path)

    assert (result.created, result.updated, result.unchanged, result.errors) == (2, 0, 0, [])
    assert sorted(HelpArticle.objects.values_list("slug", flat=True)) == ["passwords", "refunds"]
    assert HelpArticle.objects.get(slug="refunds").is_published


@pytest.mark.django_db
def test_reimport_updates_changed_articles_without_duplicating_them(tmp_path):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)
    import_articles(tmp_path)
    write(tmp_path, "refunds.md", "# Refunds, explained\n\nAll refunds take 5 working days.\n")

    result = import_articles(tmp_path)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    article = HelpArticle.objects.get()
    assert article.title == "Refunds, explained"
    assert article.body == "All refunds take 5 working days."


@pytest.mark.django_db
def test_reimport_keeps_an_article_unpublished_by_staff_unpublished(tmp_path):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)
    import_articles(tmp_path)
    HelpArticle.objects.update(is_published=False)
    write(tmp_path, "refunds.md", REFUND_ARTICLE + "\nOne more line.\n")

    import_articles(tmp_path)

    assert not HelpArticle.objects.get().is_published


@pytest.mark.django_db
def test_reimporting_unchanged_files_counts_them_as_unchanged_and_keeps_updated_at(tmp_path):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)
    import_articles(tmp_path)
    before = HelpArticle.objects.get().updated_at

    result = import_articles(tmp_path)

    assert (result.created, result.updated, result.unchanged, result.errors) == (0, 0, 1, [])
    assert HelpArticle.objects.get().updated_at == before


BAD_FILES = [
    pytest.param("no-title.md", "Just text, no heading.\n\n## A subheading\n", "no title", id="no-title"),
    pytest.param("hash-without-space.md", "#Title\n\nBody.\n", "no title", id="heading-without-space"),
    pytest.param("empty-body.md", "# A title only\n\n   \n\n", "body", id="empty-body"),
    pytest.param("empty-title.md", "#  \n\nBody.\n", "title line is empty", id="empty-title"),
    pytest.param("empty-file.md", "", "no title", id="empty-file"),
    pytest.param("text-first.md", "Intro.\n# Title\n\nBody.\n", "before the title", id="text-before-title"),
    pytest.param("latin-1.md", "# Café\n\nCrème brûlée.\n".encode("latin-1"), "UTF-8", id="not-utf8"),
    pytest.param("huge.md", "# Huge\n\n" + "word " * 45_000, "KB", id="over-200-kb"),
    pytest.param("long-title.md", "# " + "T" * 201 + "\n\nBody.\n", "over 200", id="title-too-long"),
    pytest.param("___.md", "# Title\n\nBody.\n", "slug", id="no-slug-in-file-name"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES)
def test_a_bad_file_is_reported_by_name_and_the_good_ones_still_import(tmp_path, name, content, reason):
    write(tmp_path, "a-good.md", REFUND_ARTICLE)
    write(tmp_path, name, content)
    write(tmp_path, "z-good.md", "# Another good one\n\nBody.\n")

    result = import_articles(tmp_path)

    assert result.created == 2
    assert len(result.errors) == 1
    assert name in result.errors[0]
    assert reason in result.errors[0]
    assert sorted(HelpArticle.objects.values_list("slug", flat=True)) == ["a-good", "z-good"]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES)
def test_parse_article_file_raises_a_named_error_for_bad_files(tmp_path, name, content, reason):
    path = write(tmp_path, name, content)

    with pytest.raises(ArticleFormatError, match=reason):
        parse_article_file(path)


@pytest.mark.django_db
def test_two_files_with_the_same_slug_do_not_overwrite_each_other(tmp_path):
    write(tmp_path, "Refunds.md", REFUND_ARTICLE)
    write(tmp_path, "refunds.md", "# Other refunds\n\nBody.\n")

    result = import_articles(tmp_path)

    assert result.created == 1
    assert len(result.errors) == 1
    assert "refunds.md" in result.errors[0]
    assert HelpArticle.objects.get().title == "How do refunds work?"


@pytest.mark.django_db
def test_import_command_prints_the_counts(tmp_path, capsys):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)

    call_command("import_help_articles", str(tmp_path))
    call_command("import_help_articles", str(tmp_path))

    out = capsys.readouterr().out
    assert f"Imported 1 new, updated 0, unchanged 0 article(s) from {tmp_path}" in out
    assert f"Imported 0 new, updated 0, unchanged 1 article(s) from {tmp_path}" in out
    assert HelpArticle.objects.count() == 1


@pytest.mark.django_db
def test_import_command_imports_the_good_files_then_fails_naming_the_bad_ones(tmp_path, capsys):
    write(tmp_path, "refunds.md", REFUND_ARTICLE)
    write(tmp_path, "broken.md", "no title here\n")

    with pytest.raises(CommandError, match="1 file"):
        call_command("import_help_articles", str(tmp_path))

    captured = capsys.readouterr()
    assert "Imported 1 new" in captured.out
    assert "broken.md" in captured.err
    assert HelpArticle.objects.filter(slug="refunds").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda d: d / "missing", "is not a directory", id="missing-directory"),
        pytest.param(lambda d: write(d, "file.md", REFUND_ARTICLE), "is not a directory", id="a-file-not-a-directory"),
        pytest.param(lambda d: d, "no .md files", id="empty-directory"),
        pytest.param(lambda d: write(d, "readme.txt", "hi").parent, "no .md files", id="no-markdown-files"),
    ],
)
def test_import_command_refuses_a_directory_it_cannot_import(tmp_path, setup, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_help_articles", str(setup(tmp_path)))

    assert not HelpArticle.objects.exists()


# Syncing: DIR becomes the whole help centre


def snapshot() -> list[dict]:
    return list(HelpArticle.objects.order_by("slug").values())


def sync_dir(base: Path, name: str, files: dict[str, str]) -> Path:
    directory = base / name
    directory.mkdir()
    for file_name, content in files.items():
        write(directory, file_name, content)
    return directory


@pytest.mark.django_db
def test_sync_removes_articles_with_no_file_keeps_and_updates_the_others_and_prints_the_counts(tmp_path, capsys):
    before = sync_dir(
        tmp_path,
        "before",
        {
            "refunds.md": REFUND_ARTICLE,
            "passwords.md": "# Passwords\n\nUse the reset link.\n",
            "invoices.md": "# Invoices\n\nDownload them from Billing.\n",
        },
    )
    import_articles(before)
    make_article("staff-draft", "A draft staff wrote", "Not in any file.", is_published=False)
    after = sync_dir(
        tmp_path,
        "after",
        {
            "refunds.md": REFUND_ARTICLE,
            "passwords.md": "# Passwords, again\n\nUse the reset link on the login page.\n",
            "billing.md": "# Billing\n\nWe bill monthly.\n",
        },
    )

    call_command("import_help_articles", str(after), "--sync")

    out = capsys.readouterr().out
    assert f"Imported 1 new, updated 1, unchanged 1, removed 2 article(s) from {after}" in out
    assert list(HelpArticle.objects.order_by("slug").values_list("slug", flat=True)) == [
        "billing",
        "passwords",
        "refunds",
    ]
    assert HelpArticle.objects.get(slug="passwords").title == "Passwords, again"


@pytest.mark.django_db
def test_sync_run_twice_removes_nothing_the_second_time(tmp_path, capsys):
    make_article("old", "Old article", "Gone after the first sync.")
    directory = sync_dir(tmp_path, "articles", {"refunds.md": REFUND_ARTICLE, "faq.md": "# FAQ\n\nAnswers.\n"})

    call_command("import_help_articles", str(directory), "--sync")
    rows = snapshot()
    call_command("import_help_articles", str(directory), "--sync")

    out = capsys.readouterr().out
    assert f"Imported 2 new, updated 0, unchanged 0, removed 1 article(s) from {directory}" in out
    assert f"Imported 0 new, updated 0, unchanged 2, removed 0 article(s) from {directory}" in out
    assert snapshot() == rows


@pytest.mark.django_db
def test_import_without_sync_never_removes_an_article(tmp_path, capsys):
    make_article("old", "Old article", "Not in the directory.")
    directory = sync_dir(tmp_path, "articles", {"refunds.md": REFUND_ARTICLE})

    call_command("import_help_articles", str(directory))
    result = import_articles(directory)

    assert "removed" not in capsys.readouterr().out
    assert result.removed == 0
    assert sorted(HelpArticle.objects.values_list("slug", flat=True)) == ["old", "refunds"]


@pytest.mark.django_db
def test_sync_with_a_refused_file_imports_the_good_ones_removes_nothing_and_exits_non_zero(tmp_path, capsys):
    make_article("old", "Old article", "Not in the directory.")
    make_article("broken", "Broken", "The good version, before someone broke the file.")
    directory = sync_dir(
        tmp_path,
        "articles",
        {"refunds.md": REFUND_ARTICLE, "broken.md": "no title here\n"},
    )

    with pytest.raises(CommandError, match=r"1 file.*--sync removed nothing"):
        call_command("import_help_articles", str(directory), "--sync")

    captured = capsys.readouterr()
    assert f"Imported 1 new, updated 0, unchanged 0, removed 0 article(s) from {directory}" in captured.out
    assert "broken.md" in captured.err
    assert sorted(HelpArticle.objects.values_list("slug", flat=True)) == ["broken", "old", "refunds"]
    assert HelpArticle.objects.get(slug="broken").body == "The good version, before someone broke the file."


SYNC_REFUSALS = [
    *BAD_FILES,
    pytest.param("A Good.md", "# Same slug\n\nBody.\n", "same slug", id="same-slug-as-another-file"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "reason"), SYNC_REFUSALS)
def test_sync_removes_nothing_when_any_file_is_refused(tmp_path, name, content, reason):
    make_article("old", "Old article", "Not in the directory.")
    write(tmp_path, "a-good.md", REFUND_ARTICLE)
    write(tmp_path, name, content)

    result = import_articles(tmp_path, sync=True)

    assert (result.created, result.removed) == (1, 0)
    assert len(result.errors) == 1
    assert reason in result.errors[0]
    assert HelpArticle.objects.filter(slug="old").exists()


@pytest.mark.django_db
def test_sync_removes_nothing_when_a_md_name_is_a_directory(tmp_path):
    make_article("old", "Old article", "Not in the directory.")
    write(tmp_path, "a-good.md", REFUND_ARTICLE)
    (tmp_path / "folder.md").mkdir()

    result = import_articles(tmp_path, sync=True)

    assert result.removed == 0
    assert "folder.md" in result.errors[0]
    assert HelpArticle.objects.filter(slug="old").exists()


UNUSABLE_DIRECTORIES = [
    pytest.param(lambda d: d / "missing", "is not a directory", id="missing-directory"),
    pytest.param(lambda d: write(d, "file.md", REFUND_ARTICLE), "is not a directory", id="a-file-not-a-directory"),
    pytest.param(lambda d: d, "no .md files", id="empty-directory"),
    pytest.param(lambda d: write(d, "readme.txt", "hi").parent, "no .md files", id="no-markdown-files"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("setup", "message"), UNUSABLE_DIRECTORIES)
def test_sync_refuses_a_directory_it_cannot_import_and_touches_nothing(tmp_path, setup, message):
    make_article("refunds", "Refunds", "Refunds take five working days.")
    make_article("draft", "Draft", "Unpublished.", is_published=False)
    rows = snapshot()

    with pytest.raises(CommandError, match=message):
        call_command("import_help_articles", str(setup(tmp_path)), "--sync")

    assert snapshot() == rows


@pytest.mark.django_db
@pytest.mark.parametrize(("setup", "message"), UNUSABLE_DIRECTORIES)
def test_the_sync_service_itself_refuses_a_directory_it_cannot_import(tmp_path, setup, message):
    make_article("refunds", "Refunds", "Refunds take five working days.")
    rows = snapshot()

    with pytest.raises((NotADirectoryError, NoArticleFiles), match=message):
        import_articles(setup(tmp_path), sync=True)

    assert snapshot() == rows


@pytest.mark.django_db
def test_a_search_right_after_sync_no_longer_finds_a_removed_article(tmp_path, monkeypatch):
    from assistant import retrieval

    # The clock stands still, so only the delete itself (not the once-a-second recheck) can refresh the index.
    monkeypatch.setattr(retrieval, "monotonic", lambda: 1000.0)
    directory = sync_dir(
        tmp_path,
        "articles",
        {
            "refunds.md": "# Refunds\n\nRefunds take five working days.\n",
            "invoices.md": "# Invoices\n\nDownload invoices from Billing.\n",
        },
    )
    call_command("import_help_articles", str(directory), "--sync")
    for _ in range(2):  # the second search finds the index current and leaves it to the signals alone
        assert [hit.slug for hit in retrieval.search_articles("invoices")] == ["invoices"]

    (directory / "invoices.md").unlink()
    call_command("import_help_articles", str(directory), "--sync")

    assert [hit.slug for hit in retrieval.search_articles("invoices")] == []
    assert [hit.slug for hit in retrieval.search_articles("refund")] == ["refunds"]


# Rendering


def test_render_markdown_renders_lists_links_and_tables():
    html = render_markdown(REFUND_ARTICLE + "\n| Plan | Days |\n|---|--:|\n| Monthly | 14 |\n")

    assert "<li>Monthly plans: refunded within 14 days.</li>" in html
    assert '<a href="https://example.com/billing" rel="noopener noreferrer">the billing page</a>' in html
    assert '<td align="right">14</td>' in html


@pytest.mark.parametrize(
    ("body", "forbidden"),
    [
        pytest.param("Hi <script>alert('x')</script> there", ["<script", "alert("], id="script-tag"),
        pytest.param("[click](javascript:alert(1))", ["javascript:"], id="javascript-link"),
        pytest.param('<a href="JaVaScRiPt:alert(1)">x</a>', ["javascript:", "JaVaScRiPt"], id="mixed-case-javascript"),
        pytest.param('<img src="x" onerror="alert(1)">', ["<img", "onerror"], id="event-handler"),
        pytest.param(
            "Text\n{: onclick='alert(1)' }\n\n## Head {: onmouseover='x' }", ["onclick", "onmouse"], id="attr-list"
        ),
        pytest.param('<iframe src="https://evil.example"></iframe>', ["<iframe"], id="iframe"),
        pytest.param("<style>body{display:none}</style>", ["<style", "display:none"], id="style-tag"),
    ],
)
def test_render_markdown_removes_anything_that_could_run(body, forbidden):
    html = render_markdown(body)

    for needle in forbidden:
        assert needle not in html


# Pages


@pytest.mark.django_db
def test_index_lists_published_articles_alphabetically_with_a_teaser(client):
    make_article("zebra", "Zebra billing", "**Zebras** pay by the stripe, " + "and more " * 40)
    make_article("apple", "Apple accounts", "Apples have accounts.")
    make_article("secret", "Secret draft", "Not ready yet.", is_published=False)

    response = client.get(reverse("help:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Apple accounts") < html.index("Zebra billing")
    assert "Secret draft" not in html
    assert 'href="/help/apple/"' in html
    assert "Zebras pay by the stripe" in html
    assert "**Zebras**" not in html
    assert "and more " * 30 not in html
    assert '<label for="id_q">' in html


@pytest.mark.django_db
def test_unpublished_and_unknown_articles_are_not_found(client):
    make_article("secret", "Secret draft", "Not ready yet.", is_published=False)

    assert client.get(reverse("help:article", args=["secret"])).status_code == 404
    assert client.get(reverse("help:article", args=["no-such-article"])).status_code == 404


@pytest.mark.django_db
def test_article_page_renders_the_markdown_with_the_title_as_page_title(client):
    article = make_article("refunds", "How do refunds work?", REFUND_ARTICLE.split("\n", 2)[2])

    response = client.get(article.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>How do refunds work?</title>" in html
    assert "<h1>How do refunds work?</h1>" in html
    assert "<li>Monthly plans: refunded within 14 days.</li>" in html
    assert '<a href="https://example.com/billing" rel="noopener noreferrer">the billing page</a>' in html


@pytest.mark.django_db
def test_article_page_removes_scripts_and_javascript_links_from_the_body(client):
    article = make_article(
        "evil", "Evil <b>title</b>", "Hello <script>alert('body')</script>\n\n[click me](javascript:alert(1))"
    )

    html = client.get(article.get_absolute_url()).content.decode()

    body = html.split("<article", 1)[1].split("</article>", 1)[0]
    assert "<script" not in body
    assert "alert(" not in html
    assert "javascript:" not in html
    assert "click me" in html
    assert "Evil &lt;b&gt;title&lt;/b&gt;" in html


@pytest.mark.django_db
def test_help_pages_answer_only_safe_methods(client):
    make_article("refunds", "Refunds", "Body.")

    assert client.post(reverse("help:index")).status_code == 405
    assert client.post(reverse("help:article", args=["refunds"])).status_code == 405


@pytest.mark.django_db
def test_search_finds_an_article_by_a_word_of_its_body(client):
    make_article("refunds", "Getting your money", "Refunds reach the original card within fourteen days.")
    make_article("passwords", "Passwords", "Reset your password from the login page.")
    make_article("hidden", "Hidden refunds", "Refunds refunds refunds.", is_published=False)

    response = client.get(reverse("help:index"), {"q": "fourteen"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/help/refunds/"' in html
    assert "within fourteen days" in html
    assert 'href="/help/passwords/"' not in html
    assert "Hidden refunds" not in html


@pytest.mark.django_db
def test_search_with_no_match_says_so(client):
    make_article("refunds", "Refunds", "Refunds reach the original card.")

    response = client.get(reverse("help:index"), {"q": "xylophone zeppelin"})

    assert response.status_code == 200
    assert "No articles match" in response.content.decode()


@pytest.mark.django_db
def test_search_escapes_the_query(client):
    response = client.get(reverse("help:index"), {"q": "<script>alert(1)</script>"})

    assert response.status_code == 200
    assert "<script>alert(1)" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [pytest.param("a" * 201, id="201-characters"), pytest.param("x" * 5000, id="5000-characters")],
)
def test_an_overlong_search_is_refused_with_400_and_no_results(client, query):
    make_article("refunds", "Refunds", "Refunds reach the original card.")

    response = client.get(reverse("help:index"), {"q": query})

    assert response.status_code == 400
    html = response.content.decode()
    assert "under 200 characters" in html
    assert 'href="/help/refunds/"' not in html


# The articles we ship


@pytest.mark.django_db
def test_the_shipped_help_articles_import_without_errors():
    result = import_articles(SHIPPED_ARTICLES)

    assert result.errors == []
    assert result.created >= 25
    assert HelpArticle.objects.filter(slug="how-do-support-tickets-work", is_published=True).exists()
    again = import_articles(SHIPPED_ARTICLES)
    assert (again.created, again.updated, again.unchanged) == (0, 0, result.created)


@pytest.mark.django_db
def test_the_index_sees_an_article_saved_here_at_once_and_one_changed_elsewhere_within_a_second(monkeypatch):
    from assistant import retrieval

    clock = [1000.0]
    monkeypatch.setattr(retrieval, "monotonic", lambda: clock[0])
    make_article("refunds", "Refunds", "Refunds take five working days.")
    assert [hit.slug for hit in retrieval.search_articles("refund")] == ["refunds"]

    make_article("invoices", "Invoices", "Download invoices from Billing.")  # saved here: seen at once
    assert [hit.slug for hit in retrieval.search_articles("invoices")] == ["invoices"]

    # Another process unpublishes it (no signal here): this process may answer from it for a second.
    HelpArticle.objects.filter(slug="invoices").update(is_published=False)
    clock[0] += retrieval.RECHECK_SECONDS / 2
    assert [hit.slug for hit in retrieval.search_articles("invoices")] == ["invoices"]
    clock[0] += retrieval.RECHECK_SECONDS
    assert [hit.slug for hit in retrieval.search_articles("invoices")] == []
