"""The web face: the visitor's language, the language switcher and headers (the health
check: test_health.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_services
from bot.web.app import build_web_app
from scheduling.errors import StartupError

from .harness import settings_for_test


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[TestClient]:
    services = build_services(settings_for_test(database_url, "http://127.0.0.1:9"))
    async with TestClient(TestServer(build_web_app(services))) as test_client:
        yield test_client
    await services.engine.dispose()


async def page(client: TestClient, path: str, accept_language: str | None = None) -> str:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = await client.get(path, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return await response.text()


async def test_the_browser_language_is_used(client: TestClient) -> None:
    html = await page(client, "/", "sv-FI,sv;q=0.9,en;q=0.5")
    assert '<html lang="sv">' in html
    assert "Alla kring barnet – på en gång" in html
    html = await page(client, "/", "de-DE,de;q=0.9")
    assert '<html lang="fi">' in html
    assert "Kaikki lapsen ympärillä – kerralla" in html


async def test_the_links_language_comes_first_and_the_switcher_offers_the_others(
    client: TestClient,
) -> None:
    html = await page(client, "/?lang=en", "sv")
    assert '<html lang="en">' in html
    assert "Everyone around the child, at once" in html
    assert '<nav aria-label="Language">' in html
    assert '<span aria-current="true">English</span>' in html
    assert '<a href="/?lang=fi" hreflang="fi" lang="fi">suomi</a>' in html
    assert '<a href="/?lang=sv" hreflang="sv" lang="sv">svenska</a>' in html
    html = await page(client, "/?lang=xx", "sv")
    assert '<html lang="sv">' in html


async def test_pages_keep_links_to_themselves_and_nothing_else(client: TestClient) -> None:
    response = await client.get("/")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    css = await client.get("/static/kerralla.css")
    assert css.status == 200


async def test_the_pages_do_not_start_without_a_data_key(database_url: str) -> None:
    # The family's forms are signed with DATA_KEY: there is no fallback key to sign them with.
    services = build_services(settings_for_test(database_url, "http://127.0.0.1:9", data_key=None))
    try:
        with pytest.raises(StartupError) as refused:
            build_web_app(services)
    finally:
        await services.engine.dispose()
    message = str(refused.value)
    assert message.startswith("DATA_KEY is not set") and "\n" not in message
