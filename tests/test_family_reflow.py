"""Every family page and the summary in Chromium, in Finnish and Swedish, on a 360 px phone and
at 320 px with text at 200 % (WCAG 2.1 AA: 1.4.10 Reflow, 1.4.4 Resize text): no sideways
scrolling, and no axe-core violation of the WCAG 2.0/2.1 A and AA rules. Screenshots go to
test-artifacts/a11y/."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page
from sqlalchemy import select

from bot.web.app import build_web_app
from scheduling import meetings, questionnaire, summaries
from scheduling.jobs import JobWorker
from scheduling.models import QuestionKind, QuestionnaireResponse, QuestionSet, utcnow

from .calendar_servers import free_port
from .harness import BotHarness
from .test_family_browser import CHROMIUM, browser, pytestmark, site  # noqa: F401
from .test_family_page import family_link

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "a11y"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE = Axe()

# Text at 200 %: a browser's text-size setting (Chrome's font size, Android's font scale) raises
# the default font size, which is what `rem` and `em` resolve against when the page sets no
# root size. Setting the root element's font-size to 200 % does exactly that and nothing else;
# page zoom or a device scale factor would enlarge the whole layout instead, which is Reflow at
# 160 px, not text resize. The style is set through the DOM (allowed by the pages' CSP).
MODES = {
    "phone": ({"width": 360, "height": 740}, None),
    "320px-200pct": ({"width": 320, "height": 640}, "200%"),
}


@dataclasses.dataclass
class Walk:
    page: Page
    lang: str
    mode: str
    seen: list[str] = dataclasses.field(default_factory=list)

    async def check(self, name: str, own_title: bool = True) -> None:
        """The page as it is now: text size, no sideways scrolling, no axe violation."""
        size = MODES[self.mode][1]
        if size:
            await self.page.evaluate(f"document.documentElement.style.fontSize = '{size}'")
        assert await self.page.evaluate("document.documentElement.lang") == self.lang
        title = await self.page.title()
        assert title.strip() and (title != "Kerralla" or not own_title), f"{name}: title"
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(
            path=str(SHOTS / f"{self.lang}-{self.mode}-{name}.png"), full_page=True
        )
        wide = await self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert wide[0] <= wide[1], f"{name}: the page is {wide[0]} px wide in {wide[1]} px"
        results = await AXE.run(
            self.page,
            options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]},
        )
        found = [
            (v["id"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]
        ]
        assert found == [], f"{name}: {found}"
        self.seen.append(name)


@pytest.fixture
async def limited_site(bot: BotHarness) -> AsyncIterator[str]:
    """The same pages, but each link may be asked for once a minute."""
    settings = bot.services.settings.model_copy(update={"rate_limit_per_token": 1})
    services = dataclasses.replace(bot.services, settings=settings)
    runner = web.AppRunner(build_web_app(services), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def numbers_by_kind(bot: BotHarness, token: str) -> dict[QuestionKind, int]:
    """The family centre's questions (the only set with every kind of question) for the
    guardian of the Sisukas meeting, and the first question of each kind by its number."""
    async with bot.services.sessions() as session, session.begin():
        view = await meetings.family_view(session, token, utcnow())
        member = view.seat.family_member
        chosen = await session.scalar(select(QuestionSet).where(QuestionSet.key == "perhe"))
        response = QuestionnaireResponse(
            meeting_id=view.meeting.id,
            family_member_id=member.id,
            question_set_id=chosen.id,
            answers=[],
            consents=[],
        )
        session.add(response)
        await session.flush()
        asked = await questionnaire.questions(session, response, member)
    numbers: dict[QuestionKind, int] = {}
    for number, question in enumerate(asked, 1):
        numbers.setdefault(question.kind, number)
    return numbers


async def summary_link(bot: BotHarness, meeting_id: int, seat_id: int) -> str:
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        reader = next(p for p in meeting.participants if p.id == seat_id)
        return await summaries.new_link(session, meeting, reader, utcnow())


async def hold(bot: BotHarness, meeting_id: int) -> None:
    """The time is fixed and the meeting is held (the job worker runs at its end)."""
    settings = bot.services.settings
    async with bot.services.sessions() as session, session.begin():
        meeting = await meetings.load(session, meeting_id)
        start = meetings.current_candidates(meeting)[0].starts_at
        await meetings.fix(
            session, meeting, start, settings, utcnow(), by=meeting.convener, confirmed=True
        )
        ends = meeting.ends_at
    await JobWorker(bot.services.sessions, settings, clock=lambda: ends).run_once()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("lang", ["fi", "sv"])
async def test_every_page_reflows_and_passes_axe(
    bot: BotHarness,
    site: str,  # noqa: F811
    limited_site: str,
    browser: Browser,  # noqa: F811
    lang: str,
    mode: str,
) -> None:
    meeting_id, token = await family_link(bot, lang)
    kinds = await numbers_by_kind(bot, token)
    context = await browser.new_context(viewport=MODES[mode][0], locale=f"{lang}-FI")
    page = await context.new_page()
    walk = Walk(page, lang, mode)
    f = f"{site}/f/{token}"

    await page.goto(f"{site}/?lang={lang}")
    await walk.check("00-front", own_title=False)  # "Kerralla" is the front page's own
    await page.goto(f"{f}?lang={lang}")
    await walk.check("01-meeting")
    await page.goto(f"{f}/consent?lang={lang}")
    await walk.check("02-consent")
    reader = page.get_by_role("checkbox").first
    await reader.check()
    reader_seat = int(await reader.get_attribute("value"))
    await page.locator("form button").click()

    await page.wait_for_url("**/q/1?*")
    await walk.check("03-free-text")
    # Too long: the field is marked, described by the message, and the message gives numbers.
    await page.get_by_role("textbox").evaluate("(field, text) => field.value = text", "x" * 4321)
    await page.locator("button[value=next]").click()
    await page.wait_for_selector("#error")
    field = page.locator("#answer")
    assert await field.get_attribute("aria-invalid") == "true"
    assert "error" in (await field.get_attribute("aria-describedby")).split()
    message = await page.inner_text("#error")
    # Numbers as the language writes them: 4 321 with a no-break space in Finnish and Swedish.
    assert "4\u00a0321" in message and "4\u00a0000" in message, message
    await walk.check("04-free-text-too-long")
    await page.get_by_role("textbox").fill("Hän on alkanut viihtyä koulussa.")
    await page.locator("button[value=next]").click()
    await page.wait_for_url("**/q/2?*")

    # "Back" and "Skip" side by side on a phone.
    back, skip = page.locator("button[value=back]"), page.locator("button[value=skip]")
    if mode == "phone":
        back_box, skip_box = await back.bounding_box(), await skip.bounding_box()
        assert back_box["y"] == skip_box["y"], (back_box, skip_box)
    for kind in (QuestionKind.SEVERAL_CHOICES, QuestionKind.ONE_CHOICE):
        await page.goto(f"{f}/q/{kinds[kind]}?lang={lang}")
        await walk.check(f"05-{kind.value}")
        for box in await page.locator(".choice input").all():
            size = await box.bounding_box()
            assert size["width"] >= 24 and size["height"] >= 24, (kind, size)

    await page.goto(f"{f}/review?lang={lang}")
    await walk.check("06-review")
    await page.locator("form button").click()
    await page.wait_for_url("**sent=1")
    await walk.check("07-review-sent")

    await page.goto(f"{f}/data?lang={lang}")
    await walk.check("08-data")
    await page.locator("form button").click()  # delete without ticking the box
    await page.wait_for_selector("#error")
    assert await page.get_attribute("#confirm", "aria-invalid") == "true"
    assert await page.get_attribute("#confirm", "aria-describedby") == "error"
    await walk.check("09-data-refused")

    await page.goto(f"{site}/s/{await summary_link(bot, meeting_id, reader_seat)}?lang={lang}")
    assert "Hän on alkanut viihtyä koulussa." in await page.inner_text("main")
    await walk.check("10-summary")

    await hold(bot, meeting_id)
    after = token
    await page.goto(f"{site}/f/{after}?lang={lang}")
    await walk.check("11-meeting-held")
    # The questions are closed: saying so marks no field; "Back" still goes back.
    await page.goto(f"{site}/f/{after}/q/2?lang={lang}")
    await page.get_by_role("textbox").fill("Myöhässä")
    await page.locator("button[value=next]").click()
    await page.wait_for_selector("#error")
    assert await page.locator("[aria-invalid]").count() == 0
    assert await page.get_by_role("textbox").input_value() == "Myöhässä"
    await walk.check("12-questions-closed")
    await page.locator("button[value=back]").click()
    await page.wait_for_url("**/q/1?*")
    await page.goto(f"{site}/f/{after}/feedback?lang={lang}")
    await walk.check("13-feedback")
    await page.locator("#comment").fill("Kaikki tiesivät jo, eikä minun tarvinnut toistaa.")
    await page.locator("form button").click()  # no choice made: refused
    await page.wait_for_selector("#error")
    assert await page.input_value("#comment") == (
        "Kaikki tiesivät jo, eikä minun tarvinnut toistaa."
    )  # what they wrote is kept
    radio = page.get_by_role("radio").first
    assert await radio.get_attribute("aria-invalid") == "true"
    assert await radio.get_attribute("aria-describedby") == "error"
    await walk.check("14-feedback-refused")
    await page.get_by_role("radio").first.check()
    await page.locator("#comment").evaluate("(field, text) => field.value = text", "y" * 2345)
    await page.locator("form button").click()
    await page.wait_for_selector("#error")
    assert await page.get_attribute("#comment", "aria-invalid") == "true"
    assert await page.get_attribute("#comment", "aria-describedby") == "error"
    message = await page.inner_text("#error")
    assert "2\u00a0345" in message and "2\u00a0000" in message, message
    assert await page.locator("[aria-invalid]").count() == 1  # the choice was fine
    await walk.check("14-feedback-comment-too-long")
    await page.locator("#comment").fill("Kaikki tiesivät jo.")
    await page.get_by_role("radio").first.check()
    await page.locator("form button").click()
    await page.wait_for_selector("[role=status]")
    await walk.check("15-feedback-thanked")

    await page.goto(f"{site}/f/{'A' * 43}?lang={lang}")
    await walk.check("16-link-not-valid")
    await page.goto(f"{limited_site}/f/{token}?lang={lang}")
    await page.goto(f"{limited_site}/f/{token}?lang={lang}")
    await walk.check("17-too-many-requests")
    await context.close()
    assert len(walk.seen) == 20
