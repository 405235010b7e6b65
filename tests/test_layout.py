"""The shape of the source: no file grows past the size where it wants splitting."""

from tests.conftest import ROOT

MAX_LINES = 400


def test_no_script_in_static_js_is_over_400_lines():
    scripts = sorted((ROOT / "static" / "js").rglob("*.js"))
    assert scripts
    too_long = {}
    for path in scripts:
        with path.open(encoding="utf-8") as lines:
            count = sum(1 for _ in lines)
        if count > MAX_LINES:
            too_long[str(path.relative_to(ROOT))] = count
    assert too_long == {}, f"split these (over {MAX_LINES} lines): {too_long}"
