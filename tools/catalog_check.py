"""What is wrong with the catalogs: texts missing from the template, untranslated or fuzzy
entries, placeholders that differ, role names pasted where Finnish would inflect them. Used by
tests/test_catalogs.py."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from scheduling.i18n import EXTRA_KEYWORDS

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]")

Key = tuple[str | None, str]  # (context, msgid)

# A role name is data in the nominative ("huoltaja", "lapsen asioista vastaava
# sosiaalityöntekijä"). Finnish must not paste it where the sentence wants a case: "roolin
# {role} henkilölle" reads "to the person of the role guardian", and "{role}lle" glues an ending
# to a name that may be several words. The sentence is built so that the role stands alone.
ROLE = r"\{[a-z_]*role[a-z_]*\}"
INFLECTED_ROLE = re.compile(
    rf"\b(roolin|roolille|roolilta|roolissa|roolista|henkilön|henkilölle|henkilöltä)\s+{ROLE}"
    rf"|{ROLE}\s+(henkilö|roolissa|roolille|roolin)"
    rf"|{ROLE}[a-zåäö]",
    re.IGNORECASE,
)


def key(message: Message) -> Key:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return (message.context, msgid)


def texts_in_code(root: Path = ROOT) -> set[Key]:
    """Every translatable text in the code and templates, as `pybabel extract` finds them."""
    with (root / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, **EXTRA_KEYWORDS}
    found: set[Key] = set()
    for _filename, _line, message, _comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple | list) else message
        found.add((context, msgid))
    return found


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def template_problems(in_code: set[Key], template: Catalog) -> list[str]:
    in_template = {key(m) for m in template if m.id}
    problems = [f"in the code but not in messages.pot: {k[1]!r}" for k in in_code - in_template]
    problems += [f"in messages.pot but not in the code: {k[1]!r}" for k in in_template - in_code]
    return sorted(problems)


def translation_problems(template: Catalog, catalog: Catalog, locale: str) -> list[str]:
    problems: list[str] = []
    translated = {key(m): m for m in catalog if m.id}
    for expected in template:
        if not expected.id:
            continue
        name = key(expected)[1][:60]
        message = translated.get(key(expected))
        strings = _strings(message)
        if message is None or not strings or not all(strings):
            problems.append(f"{locale}: untranslated: {name!r}")
            continue
        if message.fuzzy:
            problems.append(f"{locale}: fuzzy: {name!r}")
        problems += _placeholder_problems(message, strings, locale, name)
    return problems


def _strings(message: Message | None) -> list[str]:
    if message is None:
        return []
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def _placeholder_problems(
    message: Message, strings: Iterable[str], locale: str, name: str
) -> list[str]:
    if isinstance(message.id, tuple | list):
        # A plural form may leave out the number ("one meeting"), never anything else.
        expected = placeholders(message.id[1]) - {"{n}"}
        found = [placeholders(s) - {"{n}"} for s in strings]
    else:
        expected = placeholders(message.id)
        found = [placeholders(s) for s in strings]
    return [
        f"{locale}: placeholders differ in {name!r}: {sorted(f)} for {sorted(expected)}"
        for f in found
        if f != expected
    ]


def inflected_roles(catalog: Catalog) -> list[str]:
    """Finnish texts that paste a role name where it would have to be inflected."""
    return [
        f"{catalog.locale}: role pasted into an inflected frame: {string!r}"
        for message in catalog
        if message.id
        for string in _strings(message)
        if INFLECTED_ROLE.search(string)
    ]
