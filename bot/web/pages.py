"""Rendering pages in the visitor's language: the link's language, then Accept-Language."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from scheduling.i18n import LANGUAGE_NAMES, LOCALES, Translator, negotiate_locale, translator

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_locale(request: web.Request, default: str) -> str:
    """`?lang=` (the link's or the switcher's language) first, then the browser's preference."""
    asked = request.query.get("lang", "")
    if asked in LOCALES:
        return asked
    return negotiate_locale(request.headers.get("Accept-Language"), default)


def render(
    request: web.Request,
    template: str,
    t: Translator,
    *,
    choices: Sequence[tuple[str, str]] | None = None,
    chosen: str | None = None,
    **values: Any,
) -> web.Response:
    """A page in `t`'s language, with links to the same page in the other languages (or in
    `choices`, `(code, name)`, of which `chosen` is the current one)."""
    choices = choices or [(code, LANGUAGE_NAMES[code]) for code in LOCALES]
    chosen = chosen or t.locale
    switcher = [
        {
            "code": code.split("-")[0],  # the language tag: plain Finnish is Finnish
            "name": name,
            "url": str(request.rel_url.update_query(lang=code)),
            "current": code == chosen,
        }
        for code, name in choices
    ]
    html = (
        environment()
        .get_template(template)
        .render(
            _=t.gettext,
            gettext=t.gettext,
            ngettext=t.ngettext,
            t=t,
            lang=t.locale,
            languages=switcher,
            **values,
        )
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def request_translator(request: web.Request, default: str, time_zone: str) -> Translator:
    return translator(page_locale(request, default), time_zone)
