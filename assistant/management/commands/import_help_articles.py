from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assistant import retrieval
from assistant.help import NoArticleFiles, import_articles


class Command(BaseCommand):
    help = (
        "Import help articles from DIR: one Markdown file per article, title from the first '# ' line, "
        "slug from the file name. Re-importing updates articles, never duplicates them. With --sync, "
        "DIR becomes the whole help centre: articles with no file in DIR are deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR", type=Path, help="a directory of *.md files")
        parser.add_argument(
            "--sync",
            action="store_true",
            help="after importing, delete the articles whose slug has no file in DIR (nothing is deleted "
            "if any file is refused)",
        )

    def handle(self, *args: Any, directory: Path, sync: bool, **options: Any) -> None:
        """Import the good files, print the counts and each refused file; exit non-zero if any was refused."""
        try:
            result = import_articles(directory, sync=sync)
        except (NotADirectoryError, NoArticleFiles) as exc:
            raise CommandError(str(exc)) from exc
        removed = f", removed {result.removed}" if sync else ""
        self.stdout.write(
            f"Imported {result.created} new, updated {result.updated}, unchanged {result.unchanged}{removed} "
            f"article(s) from {directory}"
        )
        # Embed the new and edited articles now, so that the first customer question after a deploy
        # does not wait for it (a rebuild only embeds what changed).
        if embedded := retrieval.embed_articles():
            self.stdout.write(f"Embedded {embedded} article(s) for retrieval by meaning")
        for error in result.errors:
            self.stderr.write(error)
        if result.errors:
            not_removed = "; --sync removed nothing" if sync else ""
            raise CommandError(f"{len(result.errors)} file(s) in {directory} could not be imported{not_removed}")
