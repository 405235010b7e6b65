"""Evaluate the assistant on every help centre in tests/eval/domains, each held out (see harness.py).

usage: .venv/bin/python tests/eval/run.py [--engine local|openai] [--domain NAME ...] [--failures]
                                          [--banking77 ROWS]

Builds a throwaway SQLite database in a temporary directory and runs every case in a fresh live-chat
conversation through assistant.services (receive, then respond), as a customer would reach it. Prints
a table per domain (held-out accuracy per class, false and missed offers, ticket titles), one
`metric: value unit` line per headline figure, and last one line:

    eval: held_out_accuracy=X% false_offers=Y% banking77_accuracy=Z%

`--engine openai` runs the same cases through the model backend (needs OPENAI_API_KEY; it is a script,
not a test, so nothing is skipped). tests/eval/test_eval.py runs the same evaluation and holds the floors.
"""

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.eval import harness  # noqa: E402


def table(scores: dict, banking: dict | None) -> str:
    classes = [c for c in harness.CLASSES if any(c in s["counts"] for s in scores.values())]
    head = f"{'domain':<10} {'cases':>5} {'overall':>8} " + " ".join(f"{c[:7]:>7}" for c in classes)
    head += f" {'false_off':>9} {'missed_off':>10} {'titles':>7}"
    lines = [head]
    for name, s in scores.items():
        cells = " ".join(f"{s['accuracy'][c]:>6.1f}%" if c in s["accuracy"] else f"{'-':>7}" for c in classes)
        mark = " (demo, not in the headline)" if name == harness.DEMO else ""
        lines.append(
            f"{name:<10} {s['cases']:>5} {s['overall']:>7.1f}% {cells} {s['false_offers']:>8.1f}% "
            f"{s['missed_offers']:>9.1f}% {s['titles']:>6.1f}%{mark}"
        )
    lines.append("answerable cases missed, by kind: " + ", ".join(harness.MISS_KINDS))
    for name, s in scores.items():
        misses = s["answer_misses"]
        lines.append(f"{name:<10} " + " ".join(f"{misses.get(kind, 0):>4}" for kind in harness.MISS_KINDS))
    if banking:
        lines.append(
            f"banking77  {banking['rows']:>5} {banking['accuracy']:>7.1f}% answerable-vs-person; right article "
            f"{banking['right_article']:.1f}%, false offers {banking['false_offers']:.1f}%, missed offers "
            f"{banking['missed_offers']:.1f}%"
        )
    return "\n".join(lines)


def describe(failure: dict) -> str:
    expected = failure["expected"] + (f"/{failure['expected_slug']}" if failure.get("expected_slug") else "")
    got = failure["got"] + (f"/{failure['slug']}" if failure.get("slug") else "")
    return f"  {failure['id']}  expected={expected}  got={got}  text={failure['text'][:150]!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["local", "openai"], default="local")
    parser.add_argument("--domain", action="append", help="only this domain (repeatable)")
    parser.add_argument("--failures", action="store_true", help="list the failing cases")
    parser.add_argument("--banking77", type=int, default=harness.BANKING77_SAMPLE, help="Banking77 rows to score")
    args = parser.parse_args()
    if args.engine == "openai" and not os.environ.get("OPENAI_API_KEY"):
        parser.error("--engine openai needs OPENAI_API_KEY (and OPENAI_BASE_URL / OPENAI_MODEL as needed)")

    with tempfile.TemporaryDirectory(prefix="loophole-eval-") as tmp:
        harness.throwaway_environment(Path(tmp))
        if args.engine == "local":
            os.environ.pop("OPENAI_API_KEY", None)

        import django

        django.setup()
        logging.disable(logging.WARNING)
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        make_engine = harness.engine_without
        if args.engine == "openai":
            from assistant.engines.openai_backend import OpenAIEngine

            def make_engine(_held_out):
                return OpenAIEngine()

        domains = harness.load_domains(args.domain)
        scores, banking = harness.evaluate(domains, make_engine, banking77_size=args.banking77)
        print(f"# engine: {args.engine}; each domain scored while held out")
        print(table(scores, banking))
        if args.failures:
            for name, s in scores.items():
                print(f"# {name}: {len(s['failures'])} failing")
                print("\n".join(describe(f) for f in s["failures"]))
            if banking:
                print(f"# banking77: {len(banking['failures'])} failing")
                print("\n".join(describe(f) for f in banking["failures"]))
        top = harness.headline(scores, banking)
        for name, value in top.items():
            print(f"{name}: {value:.1f} {'offers' if name == 'quiet_offers' else '%'}")
        print(
            f"eval: held_out_accuracy={top['held_out_accuracy']:.1f}% false_offers={top['false_offers']:.1f}% "
            f"banking77_accuracy={top['banking77_accuracy']:.1f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
