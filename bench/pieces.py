"""Each hand-written piece of the hot path on and off, in one run: what each buys on its own.

    .venv/bin/python bench/pieces.py [--pieces statements,asgi,...] [--rounds 2] [--seconds 20] [--skip-baseline] [--no-warmup]
    .venv/bin/python bench/pieces.py --prepare DIR [--pieces ...]     # only write the copies (to test them)

For every variant the project is copied to a temporary directory (the files git tracks and the untracked
ones it does not ignore, as they are in the working tree; the venv stays where it is): `on` as it is,
and `<piece>_off` with that one piece put back to the ORM or to Django's stock handler, every other
piece on. A piece's replacement is bench/pieces/<piece>.py: the top-level functions and classes it
defines take the place of those of the same name in its TARGET module (each must exist there), and its
imports are added to that module's (an import from TARGET itself only names what stays). After an
uncounted 5 s warm-up run of `on`, round after round (every second round in reverse order, so drift
over the run falls on both sides), each variant runs `bench/chat.py --app COPY --skip c` (chat (a)
saturation msg/s, (b) realistic-pace round trip p99), and `on` and `sms_accept_off` run
`bench/sms_webhook.py --app COPY` (acknowledgements/s at saturation, p99 at a steady 50/s). Every
figure is printed as `<variant>_r<round>_<figure>`, then a summary per piece: the gain of on over off
(means over the rounds) and the verdict: a piece stays if it buys at least 10 % of the throughput
(on / off - 1) or 20 % of the p99 (1 - on / off), else it goes.

Needs the baseline kit's services (`./services.sh start` in BASELINE_DIR), as chat.py and
sms_webhook.py do. With --seconds 20, all pieces and 2 rounds: about 32 minutes on 2 cores (a chat run
about 72 s, an SMS run 2.5-3 minutes, most of it the worker draining the saturation's texts, each about
20 s more with the bare insert: --skip-baseline leaves it out of the chat runs).
"""

import argparse
import ast
import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, metric, module_constant, note

HERE = Path(__file__).resolve().parent
REPLACEMENTS = HERE / "pieces"
# piece: the bench that measures it
# (the session store, the user read and the stream's one-statement snapshot were measured too, bought
# less than the rule asks and went back to Django's stock parts and the ORM: bench/README.md)
PIECES = {
    "statements": "chat",
    "asgi": "chat",
    "sms_accept": "sms",
}
# bench: (throughput figure, higher is better; tail figure, lower is better)
FIGURES = {
    "chat": ("chat_saturation_messages_per_second", "chat_realistic_round_trip_p99"),
    "sms": ("sms_saturation_acks_per_second", "sms_steady_ack_p99"),
}
ERRORS = {
    "chat": ("chat_saturation_errors", "chat_realistic_errors"),
    "sms": ("sms_saturation_errors", "sms_steady_errors", "sms_inbound_lost"),
}
THROUGHPUT_GAIN = 0.10
TAIL_GAIN = 0.20
METRIC = re.compile(r"^(\w+): (\S+)(?: (.*))?$")
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# --- the copies -------------------------------------------------------------------------------------


def target_of(replacement: str) -> str:
    """The TARGET a replacement names: the module's path in the project."""
    try:
        return str(module_constant(replacement, "TARGET"))
    except LookupError:
        raise ValueError("a replacement names its TARGET module") from None


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def splice(source: str, replacement: str, target: str) -> str:
    """`source` (the module at `target`) with each top-level function and class of `replacement` in place
    of its own of the same name, and the replacement's imports after its last top-level import.
    Raises ValueError when `source` defines no such name, or `replacement` holds anything else."""
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    own = {node.name: node for node in tree.body if isinstance(node, DEFINITIONS)}
    first_definition = min((node.lineno for node in own.values()), default=len(lines) + 1)
    imports_end = max(
        (n.end_lineno or n.lineno for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)),
        default=0,
    )
    if imports_end > first_definition:
        raise ValueError(f"{target}: imports after the first definition")
    new = replacement.splitlines(keepends=True)
    edits: list[tuple[int, int, list[str]]] = []  # (first line index, end line index, text)
    added: list[str] = []
    for index, node in enumerate(ast.parse(replacement).body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            if not (isinstance(node, ast.ImportFrom) and node.module == module_name(target)):
                added += new[node.lineno - 1 : node.end_lineno]
        elif isinstance(node, DEFINITIONS):
            old = own.get(node.name)
            if old is None:
                raise ValueError(f"{target} defines no {node.name}: the replacement no longer applies")
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            old_start = min([d.lineno for d in old.decorator_list] + [old.lineno])
            edits.append((old_start - 1, old.end_lineno or old.lineno, new[start - 1 : node.end_lineno]))
        elif isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["TARGET"]:
            continue
        elif not (index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            raise ValueError(f"a replacement holds only imports, TARGET and definitions (line {node.lineno})")
    if not edits:
        raise ValueError(f"the replacement of {target} replaces nothing")
    for first, end, text in sorted(edits, reverse=True):
        lines[first:end] = text
    lines[imports_end:imports_end] = added
    return "".join(lines)


def replaced_module(piece: str, root: Path = ROOT) -> tuple[str, str]:
    """(TARGET, its source with the piece put back) as the piece's copy holds it."""
    replacement = (REPLACEMENTS / f"{piece}.py").read_text()
    target = target_of(replacement)
    return target, splice((root / target).read_text(), replacement, target)


def copy_project(dest: Path) -> None:
    """The project's files as they are in the working tree (tracked, and untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def make_variant(parent: Path, piece: str | None) -> Path:
    """A copy of the project with `piece` put back (None: every piece on)."""
    dest = parent / ("on" if piece is None else f"{piece}_off")
    dest.mkdir(parents=True)
    copy_project(dest)
    if piece is not None:
        target, source = replaced_module(piece, dest)
        (dest / target).write_text(source)
    return dest


# --- the runs ---------------------------------------------------------------------------------------


def run_bench(bench: str, app: Path, label: str, args: argparse.Namespace) -> dict[str, float]:
    """One run of a bench from copy `app`; prints its figures as `<label>_<figure>`, returns them."""
    script = HERE / ("chat.py" if bench == "chat" else "sms_webhook.py")
    command = [sys.executable, str(script), "--app", str(app), "--seconds", str(args.seconds)]
    if bench == "chat":
        command += ["--skip", "c,baseline" if args.skip_baseline else "c"]
    started = time.perf_counter()
    figures: dict[str, float] = {}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            found = METRIC.match(line.rstrip("\n"))
            if found:
                name, value, unit = found.groups()
                print(f"{label}_{name}: {value} {unit or ''}".rstrip(), flush=True)
                with contextlib.suppress(ValueError):  # a figure that is a word ("yes")
                    figures[name] = float(value)
            elif line.strip():
                note(f"{label}: {line.strip().removeprefix('# ')}")
        errors = proc.stderr.read()
    if proc.returncode:
        note(f"{label}: {bench} exited {proc.returncode}: {errors.strip()[-1500:]}")
    note(f"{label}: {bench} took {time.perf_counter() - started:.0f} s")
    return figures


def gain(on: list[float], off: list[float], *, lower_is_better: bool) -> float | None:
    if not on or not off:
        return None
    mean_on, mean_off = statistics.fmean(on), statistics.fmean(off)
    if mean_off == 0:
        return None
    return 1 - mean_on / mean_off if lower_is_better else mean_on / mean_off - 1


def summary(pieces: list[str], results: dict[tuple[str, str], list[dict[str, float]]]) -> None:
    """Per piece: the gain of on over off on the throughput and the tail figure, and the verdict."""
    for piece in pieces:
        bench = PIECES[piece]
        on, off = results.get(("on", bench), []), results.get((f"{piece}_off", bench), [])
        verdict = "keep"
        gains = []
        for figure, lower, needed in zip(FIGURES[bench], (False, True), (THROUGHPUT_GAIN, TAIL_GAIN), strict=True):
            values_on = [r[figure] for r in on if figure in r]
            values_off = [r[figure] for r in off if figure in r]
            found = gain(values_on, values_off, lower_is_better=lower)
            if found is None:
                metric(f"{piece}_gain_{figure}", "none", "(no figure)")
                verdict = "unmeasured"
                continue
            metric(f"{piece}_gain_{figure}", 100 * found, "%")
            note(f"{piece} {figure}: on {statistics.fmean(values_on):.1f}, off {statistics.fmean(values_off):.1f} "
                 f"(rounds on {values_on}, off {values_off}); needed {100 * needed:.0f} %")  # fmt: skip
            gains.append(found >= needed)
        if verdict != "unmeasured":
            verdict = "keep" if any(gains) else "remove"
        errors = sum(r.get(name, 0) for r in on + off for name in ERRORS[bench])
        if errors:
            note(f"{piece}: {errors:.0f} errors in its on/off runs: read the runs before the verdict")
        metric(f"{piece}_verdict", verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", default=",".join(PIECES), help=f"comma-separated, of: {', '.join(PIECES)}")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0, help="passed on to chat.py and sms_webhook.py")
    parser.add_argument("--skip-baseline", action="store_true", help="no bare insert in chat.py's runs")
    parser.add_argument("--no-warmup", action="store_true", help="no uncounted 5 s run of `on` first")
    parser.add_argument("--prepare", type=Path, metavar="DIR", help="write the copies into DIR and stop")
    args = parser.parse_args()
    pieces = [p for p in args.pieces.split(",") if p]
    unknown = [p for p in pieces if p not in PIECES]
    if unknown or not pieces:
        parser.error(f"unknown pieces {unknown}; known: {', '.join(PIECES)}")

    started = time.perf_counter()
    parent = args.prepare or Path(tempfile.mkdtemp(prefix="pieces-"))
    try:
        copies = {"on": make_variant(parent, None)}
        for piece in pieces:
            copies[f"{piece}_off"] = make_variant(parent, piece)
        note(f"{len(copies)} copies in {parent} ({time.perf_counter() - started:.0f} s)")
        if args.prepare:
            return
        benches = {PIECES[p] for p in pieces}
        runs = [("on", b) for b in sorted(benches)] + [(f"{p}_off", PIECES[p]) for p in pieces]
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        if not args.no_warmup:  # the first run after a pause starts cold (CPU clocks, caches): not counted
            run_bench(runs[0][1], copies["on"], "warmup", argparse.Namespace(seconds=5, skip_baseline=True))
        for number in range(1, args.rounds + 1):
            for variant, bench in runs if number % 2 else runs[::-1]:
                figures = run_bench(bench, copies[variant], f"{variant}_r{number}", args)
                results.setdefault((variant, bench), []).append(figures)
        summary(pieces, results)
        metric("run_minutes", (time.perf_counter() - started) / 60, "min")
    finally:
        if not args.prepare:
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
