from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assistant.help import import_articles


class Command(BaseCommand):
    help = (
        "Import help articles from DIR: one Markdown file per article, title from the first '# ' line, "
        "slug from the file name. Re-importing updates articles, never duplicates them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR", type=Path, help="a directory of *.md files")

    def handle(self, *args: Any, directory: Path, **options: Any) -> None:
        """Import the good files, print the counts and each refused file; exit non-zero if any was refused."""
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        if not any(directory.glob("*.md")):
            raise CommandError(f"{directory} has no .md files to import")
        result = import_articles(directory)
        self.stdout.write(
            f"Imported {result.created} new, updated {result.updated}, unchanged {result.unchanged} "
            f"article(s) from {directory}"
        )
        for error in result.errors:
            self.stderr.write(error)
        if result.errors:
            raise CommandError(f"{len(result.errors)} file(s) in {directory} could not be imported")
