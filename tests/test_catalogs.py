"""The catalogs stay complete: every text translated in fi, sv and en, placeholders intact."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog

from scheduling.i18n import DOMAIN, LOCALES, LOCALES_DIR, translator
from tools.catalog_check import (
    inflected_roles,
    read_catalog,
    template_problems,
    texts_in_code,
    translation_problems,
)

TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"


def test_every_text_in_the_code_is_in_the_template() -> None:
    problems = template_problems(texts_in_code(), read_catalog(TEMPLATE))
    assert problems == [], "run `make i18n` and translate:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_is_translated(locale: str) -> None:
    catalog = read_catalog(LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po", locale)
    problems = translation_problems(read_catalog(TEMPLATE), catalog, locale)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("locale", ["fi", "sv"])
def test_plural_rules(locale: str) -> None:
    catalog = read_catalog(LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po", locale)
    assert catalog.plural_expr == "(n != 1)"
    assert catalog.num_plurals == 2


def test_the_checks_catch_what_they_should() -> None:
    template = Catalog(locale="en")
    template.add("Hello {name}")
    template.add(("{n} meeting", "{n} meetings"))
    template.add("Bye")
    template.add("Fixed")
    broken = Catalog(locale="fi")
    broken.add("Hello {name}", "Hei {nimi}")
    broken.add(("{n} meeting", "{n} meetings"), ("yksi tapaaminen", "{n} {what}"))
    broken.add("Fixed", "Sovittu", flags=["fuzzy"])
    problems = translation_problems(template, broken, "fi")
    assert "fi: untranslated: 'Bye'" in problems
    assert "fi: fuzzy: 'Fixed'" in problems
    assert any("placeholders differ in 'Hello {name}'" in p for p in problems)
    assert any("placeholders differ in '{n} meeting'" in p for p in problems)
    assert len(problems) == 4
    assert template_problems({(None, "Hello {name}"), (None, "New")}, template) == [
        "in messages.pot but not in the code: 'Bye'",
        "in messages.pot but not in the code: 'Fixed'",
        "in messages.pot but not in the code: '{n} meeting'",
        "in the code but not in messages.pot: 'New'",
    ]


def test_no_finnish_text_inflects_a_pasted_role_name() -> None:
    catalog = read_catalog(LOCALES_DIR / "fi" / "LC_MESSAGES" / f"{DOMAIN}.po", "fi")
    assert inflected_roles(catalog) == []
    # What the check looks for: the old one-time-link text, and endings glued to a role.
    broken = Catalog(locale="fi")
    broken.add(
        "Send this one-time link to the {role} yourself.",
        "Lähetä tämä kertakäyttöinen linkki itse roolin {role} henkilölle.",
    )
    broken.add("Still needed: {roles}", "Vielä puuttuu: {roles}")
    broken.add("Ask the {role}", "Kysy {role}lta")
    broken.add("For the {role}", "Linkki on {role} henkilölle")
    assert len(inflected_roles(broken)) == 3
    assert "Vielä puuttuu" not in "".join(inflected_roles(broken))


def test_each_locale_has_its_own_catalog() -> None:
    # The catalogs compile in memory at start and give each locale its own translations.
    assert translator("fi").gettext("Commands:") == "Komennot:"
    assert translator("sv").gettext("Commands:") == "Kommandon:"
    assert translator("en").gettext("Commands:") == "Commands:"


def test_numbers_take_the_right_plural_form() -> None:
    from scheduling.errors import InvalidInput
    from scheduling.i18n import Nn_

    refusal = InvalidInput(
        Nn_("The period can be at most {n} day long.", "The period can be at most {n} days long."),
        n=1,
    )
    assert refusal.render(translator("en")) == "The period can be at most 1 day long."
    assert refusal.render(translator("sv")) == "Perioden kan vara högst 1 dag lång."
    refusal.params["n"] = 120
    assert refusal.render(translator("en")) == "The period can be at most 120 days long."
    assert refusal.render(translator("sv")) == "Perioden kan vara högst 120 dagar lång."
    assert refusal.render(translator("fi")) == "Jakso voi olla enintään 120 päivän pituinen."
