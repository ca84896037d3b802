"""`make i18n`: extract the texts, bring the fi, sv and en catalogs up to date, compile them.

English is the language of the source texts; its catalog is filled from them, so that an
English wording can later be changed without touching the code. Finnish and Swedish are
translated by people: a new text stays empty there until someone translates it, and the test
suite fails until then (tests/test_catalogs.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from scheduling.i18n import DOMAIN, LOCALES, LOCALES_DIR

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
SOURCE_LOCALE = "en"
PYBABEL = [sys.executable, "-m", "babel.messages.frontend"]
WRITE_OPTIONS = {"width": 100, "include_previous": False}


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> None:
    subprocess.run(
        [
            *PYBABEL,
            "extract",
            "-F",
            "babel.cfg",
            "-o",
            str(TEMPLATE),
            "--add-location=file",
            "--sort-by-file",
            "--width=100",
            "--add-comments=Translators:",
            "--strip-comment-tags",
            "--project=Kerralla",
            "--copyright-holder=Kerralla",
            "--version=0",
            "--keyword=Nn_:1,2",
            ".",
        ],
        cwd=ROOT,
        check=True,
    )


def update(locale: str) -> None:
    command = "update" if po_path(locale).exists() else "init"
    extra = ["--no-fuzzy-matching", "--ignore-obsolete"] if command == "update" else []
    subprocess.run(
        [
            *PYBABEL,
            command,
            "-i",
            str(TEMPLATE),
            "-d",
            str(LOCALES_DIR),
            "-l",
            locale,
            "-D",
            DOMAIN,
            "--width=100",
            *extra,
        ],
        cwd=ROOT,
        check=True,
    )


def fill_source_locale() -> None:
    path = po_path(SOURCE_LOCALE)
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=SOURCE_LOCALE)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            if not all(message.string):
                message.string = tuple(message.id)
        elif not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as po_file:
        write_po(po_file, catalog, **WRITE_OPTIONS)


def compile_all() -> None:
    subprocess.run(
        [*PYBABEL, "compile", "-d", str(LOCALES_DIR), "-D", DOMAIN, "--statistics"],
        cwd=ROOT,
        check=True,
    )


def main() -> None:
    extract()
    for locale in LOCALES:
        update(locale)
    fill_source_locale()
    compile_all()


if __name__ == "__main__":
    main()
