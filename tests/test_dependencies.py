"""Every third-party import is a declared dependency, and uv.lock is the resolution of pyproject.toml."""

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.conftest import ROOT

APPS = ("loophole", "tickets", "assistant", "channels_io")
# bench/ imports its sibling scripts and the tests' helpers; the baseline kit's noise.py from the path it is
# given at run time; helpdesk_search.py runs under the django-helpdesk peer's own Python and imports its code.
BENCH_LOCAL = {path.stem for path in (ROOT / "bench").glob("*.py")} | {"tests", "noise", "helpdesk"}
UV = Path(sys.executable).with_name("uv")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group()) for req in requirements}


def imported(folders: tuple[str, ...], root: Path = ROOT) -> dict[str, str]:
    """Top-level names of the absolute imports in `folders`, each with one file that imports it."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], str(path.relative_to(root)))
    return found


def undeclared(folders: tuple[str, ...], allowed: set[str], local: set[str], root: Path = ROOT) -> list[str]:
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(imported(folders, root).items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        owners = {canonical(dist) for dist in distributions.get(module, [])}
        if not owners & allowed:
            missing.append(f"{module} ({where}): installed by {sorted(owners) or 'nothing'}")
    return missing


@pytest.mark.parametrize(
    ("folders", "extras", "local"),
    [
        (APPS, (), set(APPS)),
        (("tests",), ("dev",), {*APPS, "tests"}),
        (("bench",), ("bench",), {*APPS, *BENCH_LOCAL}),
    ],
    ids=["apps-need-dependencies", "tests-may-use-dev", "bench-may-use-bench"],
)
def test_every_imported_package_is_declared(folders, extras, local):
    assert undeclared(folders, declared(*extras), local) == []


def test_a_package_that_only_comes_with_another_counts_as_undeclared(tmp_path):
    # kombu is installed because celery needs it; importing it still takes a line of its own.
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "sub" / "views.py").write_text(
        "import json\nimport celery\nfrom kombu.utils import imports\n"
        "import app.sub\nfrom . import x\nimport notinstalled\n"
    )
    missing = undeclared(("app",), declared(), {"app"}, root=tmp_path)
    assert missing == [
        "kombu (app/sub/views.py): installed by ['kombu']",
        "notinstalled (app/sub/views.py): installed by nothing",
    ]


def run_uv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    if not UV.exists():
        pytest.fail(f"uv is a dev dependency but {UV} is missing: reinstall with `make`")
    env = {"PATH": "/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never", "UV_CACHE_DIR": str(cwd / ".uv-cache")}
    return subprocess.run(
        [str(UV), *args, "--offline", "--python", sys.executable],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_lock_file_matches_pyproject(tmp_path):
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = run_uv("lock", "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r'"Django==', '"Django>=5,=='),
        (r"dependencies = \[\n", 'dependencies = [\n    "idna==3.10",\n'),
        (r'\n    "requests==[^"\n]*",', ""),
        (r'"aiohttp==', '"aiohttp>=3,=='),
    ],
    ids=["pin-changed", "dependency-added", "dependency-removed", "extra-changed"],
)
def test_the_lock_check_fails_when_pyproject_changes_without_relocking(tmp_path, pattern, replacement):
    pyproject, changed = re.subn(pattern, replacement, (ROOT / "pyproject.toml").read_text(), count=1)
    assert changed == 1
    (tmp_path / "pyproject.toml").write_text(pyproject)
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    result = run_uv("lock", "--check", cwd=tmp_path)
    assert result.returncode != 0
    assert (tmp_path / "uv.lock").read_bytes() == (ROOT / "uv.lock").read_bytes()
