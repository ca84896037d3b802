"""A guardian answers the questions in a real browser (headless Chromium) on a phone-sized
screen: chooses who may read, answers, leaves, comes back, edits, submits — with screenshots."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.web.app import build_web_app
from scheduling import questionnaire
from scheduling.models import QuestionnaireResponse, ResponseState

from .calendar_servers import free_port
from .harness import BotHarness
from .test_family_page import family_link

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "family"
PHONE = {"width": 360, "height": 740}

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None and not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (make test installs it)",
)


@pytest.fixture
async def site(bot: BotHarness) -> AsyncIterator[str]:
    runner = web.AppRunner(build_web_app(bot.services), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        await chromium.close()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_a_guardian_answers_leaves_comes_back_edits_and_submits(
    bot: BotHarness, site: str, browser: Browser
) -> None:
    _, token = await family_link(bot, "fi")
    context = await browser.new_context(viewport=PHONE, locale="fi-FI")
    page = await context.new_page()
    await page.goto(f"{site}/f/{token}")
    assert await page.get_attribute("html", "lang") == "fi"
    await shot(page, "01-meeting")
    await page.get_by_role("link", name="Vastaa kysymyksiin").click()

    await page.wait_for_selector("h1:has-text('Kuka saa lukea vastauksesi?')")
    boxes = page.get_by_role("checkbox")
    assert await boxes.count() == 3 and not any(
        [await boxes.nth(i).is_checked() for i in range(3)]
    )  # nobody is chosen beforehand
    await page.get_by_label("opettaja, ", exact=False).check()
    await shot(page, "02-consent")
    await page.get_by_role("button", name="Jatka kysymyksiin").click()

    first = page.get_by_role("textbox")
    await first.fill("Hän on alkanut viihtyä koulussa. <b>Ei lihavointia</b>")
    await shot(page, "03-question-1")
    await page.get_by_role("button", name="Tallenna ja jatka").click()
    await page.wait_for_selector("text=Kysymys 2/")
    await page.get_by_role("textbox").type("Väsymys iltaisin")
    await page.wait_for_timeout(1500)  # the page saves while the family writes
    await shot(page, "04-question-2-typed")
    await context.close()  # the tab is closed before moving on

    context = await browser.new_context(viewport=PHONE, locale="fi-FI")
    page = await context.new_page()
    await page.goto(f"{site}/f/{token}/q/2")
    assert await page.get_by_role("textbox").input_value() == "Väsymys iltaisin"  # nothing lost
    await shot(page, "05-came-back")
    await page.goto(f"{site}/f/{token}/review")
    text = await page.inner_text("main")
    assert "Hän on alkanut viihtyä koulussa. <b>Ei lihavointia</b>" in text  # as text, not HTML
    assert "Valitsit 1 henkilön, joka saa lukea vastauksesi." in text
    await shot(page, "06-review")

    await page.get_by_role("link", name="Muuta").first.click()
    await page.get_by_role("textbox").fill("Koulu sujuu nyt hyvin.")
    await page.get_by_role("button", name="Tallenna ja jatka").click()
    await page.goto(f"{site}/f/{token}/review")
    await page.get_by_role("button", name="Lähetä vastaukseni").click()
    await page.wait_for_selector("text=Kiitos! Vastauksesi on tallennettu")
    assert "Koulu sujuu nyt hyvin." in await page.inner_text("main")
    await shot(page, "07-sent")
    await context.close()

    async with bot.services.sessions() as session:
        response = await session.scalar(
            select(QuestionnaireResponse).options(selectinload(QuestionnaireResponse.consents))
        )
    assert response.state == ResponseState.SUBMITTED
    assert [c.granted for c in response.consents].count(True) == 1


async def test_the_switcher_and_swedish(bot: BotHarness, site: str, browser: Browser) -> None:
    _, token = await family_link(bot, "fi")
    context = await browser.new_context(viewport=PHONE, locale="fi-FI")
    page = await context.new_page()
    await page.goto(f"{site}/f/{token}/consent")
    await page.get_by_role("link", name="svenska").click()
    await page.wait_for_selector("h1:has-text('Vem får läsa dina svar?')")
    assert await page.get_attribute("html", "lang") == "sv"
    await page.get_by_role("button", name="Fortsätt till frågorna").click()
    await page.wait_for_selector("text=Fråga 1 av")
    await shot(page, "08-swedish-question")
    await page.get_by_role("button", name="Hoppa över").click()
    await page.wait_for_selector("text=Fråga 2 av")
    await context.close()


async def test_the_family_takes_a_reader_away_downloads_and_deletes(
    bot: BotHarness, site: str, browser: Browser
) -> None:
    """In Swedish: answer one question for the teacher, then on "Your data" take the teacher
    away, download everything, and delete the answers — all by clicking."""
    _, token = await family_link(bot, "sv")
    context = await browser.new_context(viewport=PHONE, locale="sv-FI", accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{site}/f/{token}/consent")
    await page.get_by_label("lärare", exact=False).check()
    await page.get_by_role("button", name="Fortsätt till frågorna").click()
    await page.get_by_role("textbox").fill("Hon sover dåligt.")
    await page.get_by_role("button", name="Spara och fortsätt").click()
    await page.wait_for_selector("text=Fråga 2 av")

    await page.goto(f"{site}/f/{token}")
    await page.get_by_role("link", name="Dina uppgifter: se, ladda ner eller radera").click()
    await page.wait_for_selector("h1:has-text('Dina uppgifter')")
    await shot(page, "09-your-data")
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Ladda ner mina uppgifter").click()
    download = await waiting.value
    assert download.suggested_filename == "kerralla-my-data.json"
    saved = SHOTS / "my-data.json"
    await download.save_as(str(saved))
    assert "Hon sover dåligt." in await asyncio.to_thread(saved.read_text, encoding="utf-8")

    await page.get_by_role("link", name="Ändra vem som får läsa").click()
    await page.get_by_label("lärare", exact=False).uncheck()
    await page.get_by_role("button", name="Fortsätt till frågorna").click()
    await page.goto(f"{site}/f/{token}/data")
    await page.get_by_role("button", name="Radera").click()
    await page.wait_for_selector("text=Kryssa i rutan")
    await page.get_by_label("Ja, radera mina svar").check()
    await page.get_by_role("button", name="Radera").click()
    await page.wait_for_selector("text=Dina svar har raderats.")
    await shot(page, "10-deleted")
    async with bot.services.sessions() as session:
        left = (await session.scalars(select(QuestionnaireResponse))).all()
    assert left == []
    await context.close()


async def stored_answers(bot: BotHarness) -> list[object]:
    async with bot.services.sessions() as session:
        response = await session.scalar(
            select(QuestionnaireResponse).options(selectinload(QuestionnaireResponse.answers))
        )
        return list(questionnaire.read_answers(response, bot.services.settings).values())


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
async def test_what_the_family_takes_back_is_not_kept(
    bot: BotHarness, site: str, browser: Browser, javascript: bool
) -> None:
    """Typed, then skipped: the text is gone from the review and from the database, also after
    the page saved it while it was being written and after the page was left. Typed, then
    erased, then "Back": nothing is kept either."""
    _, token = await family_link(bot, "fi")
    context = await browser.new_context(
        viewport=PHONE, locale="fi-FI", java_script_enabled=javascript
    )
    page = await context.new_page()
    await page.goto(f"{site}/f/{token}/consent")
    await page.get_by_label("opettaja, ", exact=False).check()  # a reader who would see it
    await page.get_by_role("button", name="Jatka kysymyksiin").click()
    await page.wait_for_selector("text=Kysymys 1/")
    await page.get_by_role("textbox").type("Luonnos, jota en halua näyttää")
    await page.wait_for_timeout(1500)  # with the script on, the page saves while one writes
    await page.get_by_role("button", name="Ohita").click()
    await page.wait_for_selector("text=Kysymys 2/")

    await page.get_by_role("textbox").type("Toinen luonnos")
    await page.wait_for_timeout(1500)
    await page.get_by_role("textbox").fill("")  # taken back at once, before the page saves
    await page.get_by_role("button", name="Takaisin").click()
    await page.wait_for_selector("text=Kysymys 1/")
    assert await page.get_by_role("textbox").input_value() == ""
    await page.goto(f"{site}/f/{token}/review")  # the question page is left once more
    await page.wait_for_timeout(500)  # time for anything the left page might still send
    await page.reload()
    text = await page.inner_text("main")
    await shot(page, f"11-taken-back-{'script' if javascript else 'no-script'}")
    assert "luonnos" not in text.lower()
    rows = await page.locator("dd").all_inner_texts()
    assert rows[0].startswith("Ei vastausta") and rows[1].startswith("Ei vastausta")
    assert await stored_answers(bot) == [None, None]
    await context.close()


@web.middleware
async def slow_saves(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """The page's saves while writing reach the server, then take two seconds (a poor
    connection, a busy server): whatever the family does meanwhile arrives first."""
    if request.method == "POST" and (await request.post()).get("action") == "autosave":
        SLOW.append(request.path)
        await asyncio.sleep(2)
    return await handler(request)


SLOW: list[str] = []


@pytest.fixture
async def slow_site(bot: BotHarness) -> AsyncIterator[str]:
    app = build_web_app(bot.services)
    app.middlewares.insert(0, slow_saves)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_save_still_on_its_way_does_not_bring_a_skipped_answer_back(
    bot: BotHarness, slow_site: str, browser: Browser
) -> None:
    """The page's save while writing is slow; "Skip" is pressed meanwhile. The form goes only
    after that save has been answered, so the skip is what stays."""
    _, token = await family_link(bot, "fi")
    context = await browser.new_context(viewport=PHONE, locale="fi-FI")
    page = await context.new_page()
    SLOW.clear()
    await page.goto(f"{slow_site}/f/{token}/q/1")
    await page.get_by_role("textbox").type("Kirjoitin tämän, mutta ohitan sen")
    await page.wait_for_timeout(1200)  # the save has reached the server and is being made
    assert SLOW
    await page.get_by_role("button", name="Ohita").click()
    await page.wait_for_selector("text=Kysymys 2/")
    await page.wait_for_timeout(2500)  # whatever was on its way has been made
    assert await stored_answers(bot) == [None]
    await page.goto(f"{slow_site}/f/{token}/review")
    assert (await page.locator("dd").first.inner_text()).startswith("Ei vastausta")
    await context.close()
