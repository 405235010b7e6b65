from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from assistant import intents, retrieval, training

BASE = Path(settings.BASE_DIR)
# The shipped model's training data: the evaluation's labelled messages of every help centre, and a
# sample of Banking77's real customer wording with each intent labelled answerable or needs-a-person.
DOMAINS = BASE / "tests" / "eval" / "domains"
BANKING_ROWS = BASE / "assistant" / "data" / "banking77.csv"
DEMO_ARTICLES = BASE / "help_articles"


class Command(BaseCommand):
    help = (
        "Train the assistant's intent classifier (answer, offer, status, clarify, small talk) and write it to "
        f"{intents.MODEL_FILE.relative_to(BASE)}. FILE: more labelled messages, a JSON list of "
        '{"text": ..., "expect": "answer|offer|status|clarify|smalltalk"}, added to the shipped training data '
        "(or alone, with --only). Deterministic: the same files give the same model. Restart the web and "
        "worker processes to use a new model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", metavar="FILE", type=Path, help="labelled messages (JSON)")
        parser.add_argument("--only", action="store_true", help="train on FILE alone, without the shipped data")
        parser.add_argument("--output", type=Path, default=intents.MODEL_FILE, help="where to write the model")
        parser.add_argument(
            "--check", action="store_true", help="write nothing; fail if the model file differs from the training"
        )

    def handle(self, *args: Any, files: list[Path], only: bool, output: Path, check: bool, **options: Any) -> None:
        if only and not files:
            raise CommandError("--only needs at least one FILE of labelled messages")
        examples = []
        try:
            if not only:
                examples += training.shipped_examples(DOMAINS, DEMO_ARTICLES, BANKING_ROWS)
            if files:
                # An operator's own messages are read against the help centre they run now.
                published = retrieval.current_index()
                for path in files:
                    examples += training.labelled_messages(path, published)
            model = intents.train(examples)
        except (training.TrainingDataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        text = model.to_json()
        if check:
            current = output.read_text(encoding="utf-8") if output.is_file() else ""
            if current != text:
                raise CommandError(f"{output} is not what the training data gives: run manage.py train_intents")
            self.stdout.write(f"{output} is what {len(examples)} labelled messages give")
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output} ({exc.strerror or exc}): choose another --output") from exc
        self.stdout.write(
            f"Trained on {len(examples)} labelled messages ({', '.join(model.classes)}); "
            f"{len(model.weights)} features written to {output}"
        )
