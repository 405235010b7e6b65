"""The widget's scripts: ES modules with no build step (static/js/widget.js and static/js/widget/),
loaded with <script type="module">, and still whole in production, where collectstatic serves them
under hashed names (their imports rewritten to match) with DEBUG off."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import ROOT
from tests.factories import UserFactory
from tests.test_deploy import production_env, run

ENTRY = ROOT / "static" / "js" / "widget.js"
MODULES = ROOT / "static" / "js" / "widget"
IMPORT = re.compile(r'^import \{[^}\n]*\} from "(\.{1,2}/[^"\n]+)";$', re.MULTILINE)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.found.append(dict(attrs))


def scripts_of(html: str) -> list[dict[str, str | None]]:
    parser = Scripts()
    parser.feed(html)
    return parser.found


def imports_of(path: Path) -> list[Path]:
    text = path.read_text(encoding="utf-8")
    statements = [line for line in text.splitlines() if line.startswith(("import ", "export {", "export *"))]
    found = IMPORT.findall(text)
    # Each one as collectstatic's pattern finds it: `import { … } from "./x.js";` on one line.
    assert len(found) == len(statements), (path.name, statements)
    return [(path.parent / name).resolve() for name in found]


@pytest.mark.django_db
def test_the_customers_pages_load_the_widget_as_a_module():
    client = Client()
    client.force_login(UserFactory())
    widget = [s for s in scripts_of(client.get("/").content.decode()) if "widget" in (s.get("src") or "")]
    assert widget == [{"type": "module", "src": "/static/js/widget.js"}]


def test_the_widget_modules_import_files_that_exist_and_never_in_a_circle():
    graph: dict[Path, list[Path]] = {}
    pending = [ENTRY.resolve()]
    while pending:
        module = pending.pop()
        if module in graph:
            continue
        assert module.is_file(), module
        graph[module] = imports_of(module)
        pending += graph[module]
    assert set(graph) == {ENTRY.resolve(), *(p.resolve() for p in MODULES.glob("*.js"))}  # none left out
    assert len(graph) > 1

    # An import cycle would make collectstatic give up ("Max post-process passes exceeded"):
    # each module's hashed name depends on those of the modules it imports.
    done: set[Path] = set()

    def visit(module: Path, path: tuple[Path, ...]) -> None:
        assert module not in path, " -> ".join(p.name for p in (*path, module))
        if module not in done:
            for imported in graph[module]:
                visit(imported, (*path, module))
            done.add(module)

    visit(ENTRY.resolve(), ())


PROBE = """
import json, posixpath, re, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client, override_settings
override_settings(STATIC_ROOT=sys.argv[1]).enable()
call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=["admin"])  # not on this page
client = Client(HTTP_HOST="support.example.com")
def get(path):
    response = client.get(path, secure=True)
    text = b"".join(response).decode() if response.streaming else response.content.decode()
    return {"status": response.status_code, "type": response.get("Content-Type", ""),
            "cache": response.get("Cache-Control", ""), "csp": response.get("Content-Security-Policy"), "text": text}
page = get("/chat/frame/?origin=https%3A%2F%2Fsupport.example.com")
pending, files = re.findall(r'<script type="module" src="([^"]+)"', page["text"]), {}
while pending:
    path = pending.pop()
    if path not in files:
        files[path] = get(path)
        here, names = posixpath.dirname(path), re.findall(sys.argv[2], files[path]["text"], re.M)
        pending += [posixpath.normpath(posixpath.join(here, name)) for name in names]
print(json.dumps({"page": page, "files": files}))
"""


def test_with_debug_off_the_collected_widget_is_served_under_hashed_names_with_its_imports(tmp_path):
    """The frame page (base.html with the widget) as production serves it, after collectstatic
    into a temporary STATIC_ROOT: the entry and every module it reaches are served, named by hash."""
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL="")
    result = run(["-c", PROBE, str(tmp_path / "static"), IMPORT.pattern], env)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout)
    page, files = served["page"], served["files"]
    assert page["status"] == 200
    assert re.search(r"(^|; )script-src 'self'(;|$)", page["csp"]) and "unsafe-inline" not in page["csp"]
    entry = [s for s in scripts_of(page["text"]) if "widget" in (s.get("src") or "")]
    assert len(entry) == 1 and entry[0].get("type") == "module", entry
    assert str(entry[0]["src"]).startswith("/static/js/widget.") and HASHED.search(str(entry[0]["src"])), entry

    assert len(files) == 1 + len(list(MODULES.glob("*.js")))  # the entry and each module, once
    for path, file in files.items():
        assert HASHED.search(path), f"an import names {path}, not a hashed name"
        assert file["status"] == 200, path
        assert file["type"].split(";")[0] in {"text/javascript", "application/javascript"}, (path, file["type"])
        assert "immutable" in file["cache"], (path, file["cache"])
