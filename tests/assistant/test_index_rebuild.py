"""current_index() rebuilds aside: while one thread builds, searches get the old index at once."""

import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.db import OperationalError, connection

from assistant import retrieval
from assistant.models import HelpArticle
from assistant.retrieval import Index, current_index, search_articles

# Threads read the articles through their own connections, so the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DEADLINE = 10.0  # seconds; every wait below ends as soon as its event is set, long before this


class GatedBuild:
    """Index.build held at a gate until the test releases it, then the real build runs.

    A seam for timing, not a fake: a build as slow as one over 5,000 articles cannot be had on demand
    without sleeping, so the test decides when the build may go on. `errors` fail the next builds the
    way a dropped database connection would, after they have been let through."""

    def __init__(self, real: Callable[..., Index]) -> None:
        self.real = real
        self.calls = 0
        self.errors: list[Exception] = []
        self.arm()

    def arm(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, articles: Iterable[tuple[int, str, str, str]], kept: Any = None) -> Index:
        self.calls += 1
        self.started.set()
        assert self.release.wait(DEADLINE), "the test never released the build"
        if self.errors:
            raise self.errors.pop(0)
        return self.real(articles, kept)


@pytest.fixture
def gated_build(monkeypatch: pytest.MonkeyPatch) -> GatedBuild:
    gate = GatedBuild(Index.build)
    monkeypatch.setattr(Index, "build", gate)
    return gate


class InThread:
    """`target` run in a thread with its own database connection; its result or exception kept."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.target = target
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self.target()
        except Exception as error:
            self.error = error
        finally:
            connection.close()

    def finish(self) -> Any:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "the thread was still waiting at the deadline"
        if self.error is not None:
            raise self.error
        return self.result


def slugs(query: str) -> list[str]:
    return [hit.slug for hit in search_articles(query, limit=3)]


@pytest.fixture
def refund_article() -> HelpArticle:
    return HelpArticle.objects.create(
        slug="refunds", title="How do refunds work?", body="Refunds go back to the card you paid with within 14 days."
    )


def add_export_article() -> None:
    """An article saved in this process: its post_save signal makes the next search check again."""
    HelpArticle.objects.create(
        slug="export-timesheets", title="Exporting timesheets", body="Download your timesheets as a spreadsheet."
    )


def test_search_during_a_rebuild_answers_at_once_from_the_old_index(refund_article, gated_build: GatedBuild) -> None:
    gated_build.release.set()
    old = current_index()  # built before the new article exists
    gated_build.arm()
    builds_before = gated_build.calls
    add_export_article()

    builder = InThread(current_index)
    assert gated_build.started.wait(DEADLINE)
    searcher = InThread(lambda: (current_index(), slugs("refund"), slugs("export timesheets spreadsheet")))
    index, refund_hits, export_hits = searcher.finish()  # returns while the build is still held

    assert builder.thread.is_alive()
    assert index is old
    assert refund_hits == ["refunds"]
    assert "export-timesheets" not in export_hits

    gated_build.release.set()
    fresh = builder.finish()
    assert fresh is not old
    assert current_index() is fresh
    assert slugs("export timesheets spreadsheet")[0] == "export-timesheets"
    assert gated_build.calls == builds_before + 1  # the searcher built nothing


def test_a_failed_rebuild_keeps_the_old_index_and_a_later_call_rebuilds(
    refund_article, gated_build: GatedBuild
) -> None:
    gated_build.release.set()
    old = current_index()
    gated_build.arm()
    add_export_article()

    gated_build.errors.append(OperationalError("server closed the connection unexpectedly"))
    gated_build.release.set()
    failed = InThread(current_index)
    with pytest.raises(OperationalError):
        failed.finish()

    # The next call builds again (the single-flight flag was cleared), and while that build is held
    # the old index still answers.
    gated_build.arm()
    builder = InThread(current_index)
    assert gated_build.started.wait(DEADLINE), "no rebuild started after the failed one"
    assert InThread(current_index).finish() is old
    assert "export-timesheets" not in InThread(lambda: slugs("export timesheets spreadsheet")).finish()

    gated_build.release.set()
    builder.finish()
    assert slugs("export timesheets spreadsheet")[0] == "export-timesheets"


def test_before_the_first_index_every_caller_gets_the_one_first_build(
    refund_article, gated_build: GatedBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retrieval, "_cache", retrieval._Cache())  # as in a process that has not searched yet

    first = InThread(current_index)
    assert gated_build.started.wait(DEADLINE)
    second = InThread(current_index)
    gated_build.release.set()

    index = first.finish()
    assert second.finish() is index
    assert index.search("refund")[0].slug == "refunds"
    assert gated_build.calls == 1
