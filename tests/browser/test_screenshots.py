"""Browser tests write their screenshots to a temporary folder; only `make screenshots`, naming
docs/screenshots/ in SCREENSHOTS_DIR, writes into the repository."""

import re
from pathlib import Path

import pytest

from tests.browser.conftest import MISSING, SCREENSHOTS_DIR, screenshot_dir
from tests.conftest import ROOT

BROWSER_TESTS = Path(__file__).resolve().parent
REPOSITORY_SCREENSHOTS = ROOT / "docs" / "screenshots"


def repository_screenshots() -> dict[str, tuple[int, int]]:
    if not REPOSITORY_SCREENSHOTS.is_dir():
        return {}
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in REPOSITORY_SCREENSHOTS.iterdir()}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "default"),
        ({SCREENSHOTS_DIR: ""}, "default"),
        ({SCREENSHOTS_DIR: "   "}, "default"),
        ({SCREENSHOTS_DIR: "docs/screenshots"}, str(REPOSITORY_SCREENSHOTS)),
        ({SCREENSHOTS_DIR: " docs/screenshots "}, str(REPOSITORY_SCREENSHOTS)),
        ({SCREENSHOTS_DIR: "/srv/pictures"}, "/srv/pictures"),
    ],
    ids=["unset", "empty", "blank", "relative", "padded", "absolute"],
)
def test_screenshots_go_to_the_repository_only_when_a_folder_is_named(tmp_path, environ, expected):
    default = tmp_path / "screenshots"
    assert screenshot_dir(environ, default) == (default if expected == "default" else Path(expected))


def test_no_browser_test_module_writes_a_screenshot_itself():
    # Every screenshot goes through the `shot` fixture, which honours SCREENSHOTS_DIR.
    direct = re.compile(r"\.screenshot\(|docs/screenshots|[\"']screenshots[\"']")
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(BROWSER_TESTS.glob("test_*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []


@pytest.mark.skipif(bool(MISSING), reason=MISSING or "-")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_shot_fixture_writes_under_tmp_and_only_a_named_folder_elsewhere(browser, shot, tmp_path, monkeypatch):
    page = browser.new_page(viewport={"width": 320, "height": 200})
    page.set_content("<h1>Screenshot probe</h1>")
    before = repository_screenshots()

    monkeypatch.delenv(SCREENSHOTS_DIR, raising=False)
    taken = shot(page, "probe.png")
    assert taken.is_relative_to(tmp_path) and not taken.is_relative_to(ROOT)
    assert taken.read_bytes().startswith(b"\x89PNG")
    assert repository_screenshots() == before

    named = tmp_path / "named"
    monkeypatch.setenv(SCREENSHOTS_DIR, str(named))
    assert shot(page.locator("h1"), "probe.png") == named / "probe.png"
    assert (named / "probe.png").is_file()
    assert repository_screenshots() == before
    page.close()
