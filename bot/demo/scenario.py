"""The demo's play: a Sisukas meeting from convening to the family's feedback.

A social worker convenes with /uusi; five professionals from the directory and a guardian
(through a one-time link) answer the times; the time is fixed and calendar invitations go out;
the guardian answers the questions before the meeting and chooses who may read them; the job
worker is run at the summary time, a day before the meeting and when it has ended; the joint
plan is recorded and sent, and the guardian answers the feedback question. Everything the
people write is in the demo's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select

from scheduling.db import transaction
from scheduling.i18n import N_, Translator
from scheduling.models import (
    Job,
    Meeting,
    MeetingType,
    Organisation,
    Participant,
    Professional,
    ProfessionalState,
    Sector,
    TelegramUser,
)
from scheduling.reminders import PLAN_PROMPT, REMINDER, SUMMARY

from ..commands import NEW
from .fake_bot_api import JSON
from .player import Player, button, has_button
from .transcript import button_rows

CONVENER, TEACHER, SPECIAL, CURATOR, PRINCIPAL, PSYCHOLOGIST, GUARDIAN = range(1001, 1008)
EMAIL_DOMAIN = "kuusilahti.example"


@dataclass(frozen=True)
class Person:
    telegram_id: int
    name: str
    title: str  # N_(): translated into the demo's language
    sector: Sector | None = None
    organisation: str = ""  # N_(), as title
    role: str = ""  # the role in the Sisukas meeting (scheduling/data/defaults.toml)


SOCIAL_SERVICES = N_("Kuusilahti social services")
SCHOOL = N_("Kuusilahti school")
SISUKAS_TEAM = N_("Kuusilahti Sisukas team")
# The teachers teach in the morning: the school prefers meetings after 12.00, and as the
# teacher is required, the proposed times are in the afternoon.
PREFERRED_HOURS = {SCHOOL: time(12)}

CAST = [
    Person(
        CONVENER,
        "Stina Strand",
        N_("social worker"),
        Sector.CHILD_PROTECTION,
        SOCIAL_SERVICES,
        "responsible_social_worker",
    ),
    Person(TEACHER, "Olli Ojala", N_("class teacher"), Sector.SCHOOL, SCHOOL, "teacher"),
    Person(
        SPECIAL,
        "Eeva Eskola",
        N_("special-needs teacher"),
        Sector.SCHOOL,
        SCHOOL,
        "special_needs_teacher",
    ),
    Person(CURATOR, "Kalle Kallio", N_("school curator"), Sector.SCHOOL, SCHOOL, "school_curator"),
    Person(PRINCIPAL, "Riitta Rantanen", N_("principal"), Sector.SCHOOL, SCHOOL, "principal"),
    Person(
        PSYCHOLOGIST,
        "Pia Pelto",
        N_("psychologist"),
        Sector.SCHOOL,
        SISUKAS_TEAM,
        "sisukas_psychologist",
    ),
    Person(GUARDIAN, "Maija", N_("guardian")),
]
PROFESSIONALS = [p for p in CAST if p.sector is not None]
# How each person answers the times, one letter per time (y: suits, m: maybe, n: does not
# suit): only the second time suits everyone. The teacher, who must
# answer, answers last, so the convener is offered the time once everyone has answered.
ANSWERS = {
    SPECIAL: "yymymn",
    CURATOR: "mymmyy",
    PRINCIPAL: "nyynym",
    PSYCHOLOGIST: "yynyny",
    GUARDIAN: "nyynyy",
    TEACHER: "yynymy",
}
CASE_LABEL = "SIS-24"
# What the narrator calls the jobs that ran (kind, and the hours of a reminder); the others
# (the answer deadline, the family's reminder) have nothing to do in this play.
JOB_NAMES = {
    (SUMMARY, None): N_("the family's answers to the people they chose"),
    (REMINDER, 24): N_("the reminder a day before"),
    (REMINDER, 1): N_("the reminder an hour before"),
    (PLAN_PROMPT, None): N_("the meeting is over: the joint plan and the feedback question"),
}


def names(t: Translator) -> dict[int, str]:
    """How each person is shown in the transcript: first name and title."""
    return {p.telegram_id: f"{p.name.split()[0]}, {t.gettext(p.title)}" for p in CAST}


def email_of(person: Person) -> str:
    return person.name.lower().replace(" ", ".") + "@" + EMAIL_DOMAIN


def day_month(day: date, today: date) -> str:
    """A date as Finns type it: 15.1., with the year when it is not this year's."""
    return f"{day.day}.{day.month}." + (str(day.year) if day.year != today.year else "")


class PageText(HTMLParser):
    """The text of a page's <main>, a line per heading, paragraph, question and answer."""

    BLOCKS = frozenset({"h1", "h2", "p", "dt", "dd", "li"})

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.depth = 0
        self.current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag == "main"
        if self.depth and tag in self.BLOCKS:
            self.current = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS and self.current is not None:
            text = " ".join("".join(self.current).split())
            if text:
                self.lines.append(("    " if tag == "dd" else "") + text)
            self.current = None
        self.depth -= tag == "main"

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current.append(data)


class Scenario:
    def __init__(self, player: Player, t: Translator) -> None:
        self.player, self.t = player, t
        self.transcript = player.transcript
        self.services = player.services
        self.meeting_id = 0

    async def play(self) -> None:
        await self.directory()
        circle = await self.convene()
        times = await self.guardian_joins(circle)
        await self.answer_times(times)
        await self.fix()
        await self.family_questions()
        await self.summary()
        await self.reminder()
        await self.plan()
        await self.feedback()

    # -- the directory ---------------------------------------------------------------------

    async def directory(self) -> None:
        t = self.t
        self.transcript.heading(t.gettext("The directory"))
        async with transaction(self.services.sessions) as session:
            organisations: dict[str, Organisation] = {}
            for n, name in enumerate((SOCIAL_SERVICES, SCHOOL, SISUKAS_TEAM), 1):
                organisations[name] = Organisation(
                    slug=f"kuusilahti-{n}",
                    name=t.gettext(name),
                    preferred_hours_start=PREFERRED_HOURS.get(name),
                )
                session.add(organisations[name])
                if name in PREFERRED_HOURS:
                    zone = ZoneInfo(self.services.settings.timezone)
                    after = datetime.combine(date(2026, 1, 1), PREFERRED_HOURS[name], zone)
                    self.transcript.note(
                        t.gettext(
                            "{organisation} prefers meetings after {time}.",
                            organisation=t.gettext(name),
                            time=t.time(after),
                        )
                    )
            await session.flush()
            for person in PROFESSIONALS:
                session.add(TelegramUser(id=person.telegram_id, locale=t.locale))
                await session.flush()
                session.add(
                    Professional(
                        telegram_user_id=person.telegram_id,
                        organisation_id=organisations[person.organisation].id,
                        display_name=person.name,
                        sector=person.sector,
                        title=t.gettext(person.title),
                        email=email_of(person),
                        state=ProfessionalState.APPROVED,
                        approved_at=self.services.now(),
                    )
                )
                self.transcript.note(
                    f"{person.name}, {t.gettext(person.title)}, "
                    f"{t.gettext(person.organisation)} <{email_of(person)}>"
                )
        for person in CAST:
            self.player.api.user(
                person.telegram_id, first_name=person.name.split()[0], language_code=t.locale
            )

    # -- convening -------------------------------------------------------------------------

    async def convene(self) -> JSON:
        t, play = self.t, self.player
        new = NEW.slash(t.locale)
        self.transcript.heading(
            t.gettext("{name} convenes a Sisukas meeting with {command}", name="Stina", command=new)
        )
        async with self.services.sessions() as session:
            sisukas = await session.scalar(select(MeetingType).where(MeetingType.key == "sisukas"))
        assert sisukas is not None
        kinds = await play.type(CONVENER, new, has_button("cv:type:"))
        roles = await play.press(CONVENER, kinds, f"cv:type:{sisukas.id}", has_button("cv:me:"))
        await play.press(CONVENER, roles, "cv:me:responsible_social_worker")
        lengths = await play.type(CONVENER, CASE_LABEL, has_button("cv:len:"))
        await play.press(CONVENER, lengths, "cv:len:90")
        await play.type(
            CONVENER, t.gettext("Kuusilahti school, meeting room 2"), has_button("cv:win:")
        )
        today = self.services.now().astimezone(ZoneInfo(self.services.settings.timezone)).date()
        first, last = today + timedelta(days=7), today + timedelta(days=20)
        deadlines = await play.type(
            CONVENER, f"{day_month(first, today)}–{day_month(last, today)}", has_button("cv:dl:")
        )
        circle = await play.press(CONVENER, deadlines, "cv:dl:3", has_button("cv:dir"))

        for person in PROFESSIONALS[1:]:
            finding = await play.press(CONVENER, circle, "cv:dir", has_button("cv:sec:"))
            if person.telegram_id in (CURATOR, PSYCHOLOGIST):  # by name, the others by sector
                found = await play.type(
                    CONVENER, person.name.split()[0][:4].lower(), has_button("cv:pro:")
                )
            else:
                found = await play.press(
                    CONVENER, finding, f"cv:sec:{person.sector.value}", has_button("cv:pro:")
                )
            async with self.services.sessions() as session:
                chosen = await session.scalar(
                    select(Professional.id).where(Professional.display_name == person.name)
                )
            asked = await play.press(CONVENER, found, f"cv:pro:{chosen}", has_button("cv:role:"))
            circle = await play.press(
                CONVENER, asked, f"cv:role:{person.role}", has_button("cv:dir")
            )

        asked = await play.press(CONVENER, circle, "cv:link", has_button("cv:role:guardian"))
        circle = await play.press(CONVENER, asked, "cv:role:guardian", has_button("cv:done"))
        times = await play.press(CONVENER, circle, "cv:done", has_button("cv:send"))
        await play.press(CONVENER, times, "cv:send")
        async with self.services.sessions() as session:
            self.meeting_id = await session.scalar(select(Meeting.id)) or 0
        await play.settle()
        return circle

    # -- the guardian joins; everyone answers the times ------------------------------------------

    async def guardian_joins(self, circle: JSON) -> dict[int, JSON]:
        t, play = self.t, self.player
        link = next(word for word in circle["text"].split() if word.startswith("https://t.me/"))
        self.transcript.heading(
            t.gettext(
                "{convener} sends the one-time link to the guardian {name}, who opens it in "
                "Telegram",
                convener="Stina",
                name="Maija",
            )
        )
        await play.type(GUARDIAN, f"/start {link.split('?start=')[1]}", has_button("fq:start:"))
        await play.settle()
        return {
            person: await play.message_to(person, has_button("av:"))
            for person in (TEACHER, SPECIAL, CURATOR, PRINCIPAL, PSYCHOLOGIST, GUARDIAN)
        }

    async def answer_times(self, invitations: dict[int, JSON]) -> None:
        play = self.player
        self.transcript.heading(self.t.gettext("Everyone answers the proposed times"))
        for person, pattern in ANSWERS.items():
            message = invitations[person]
            rows = button_rows(message)
            for n, row in enumerate(rows[0::2]):  # a time, then its three answers
                when = row[0]["text"]
                candidate = row[0]["callback_data"].split(":")[1]
                choice = pattern[n % len(pattern)]
                await play.press(
                    person,
                    message,
                    f"av:{candidate}:{choice}",
                    lambda m, c=candidate, x=choice: any(
                        k["callback_data"] == f"av:{c}:{x}" and k["text"].startswith("● ")
                        for r in button_rows(m)
                        for k in r
                    ),
                    context=when,
                    flush=False,
                )
            await play.settle()

    async def fix(self) -> None:
        t, play = self.t, self.player
        self.transcript.heading(
            t.gettext(
                "{name} fixes the time: calendar files in the chat, invitations by email",
                name="Stina",
            )
        )
        offer = [m for m in play.api.messages(CONVENER) if has_button("fix:")(m)][-1]
        best = next(
            (k for row in button_rows(offer) for k in row if k["text"].startswith("★")),
            button(offer, "fix:"),
        )
        await play.press(CONVENER, offer, best["callback_data"])
        await play.settle()

    # -- before the meeting ----------------------------------------------------------------

    async def family_questions(self) -> None:
        t, play = self.t, self.player
        self.transcript.heading(
            t.gettext(
                "{name} answers the questions before the meeting and chooses who may read them",
                name="Maija",
            )
        )
        joined = await play.message_to(GUARDIAN, has_button("fq:start:"))
        languages = await play.press(GUARDIAN, joined, "fq:start:", has_button("fq:lang:"))
        intro = await play.press(GUARDIAN, languages, f"fq:lang:{t.locale}", has_button("fq:intro"))
        readers = await play.press(GUARDIAN, intro, "fq:intro", has_button("fq:who:"))
        async with self.services.sessions() as session:
            seats = dict(
                (
                    await session.execute(
                        select(Participant.role, Participant.id).where(
                            Participant.meeting_id == self.meeting_id
                        )
                    )
                ).all()
            )
        for role in ("teacher", "responsible_social_worker"):
            chosen = f"fq:who:{seats[role]}"
            readers = await play.press(
                GUARDIAN,
                readers,
                chosen,
                lambda m, c=chosen: button(m, c)["text"].startswith("☑"),
            )
        question = await play.press(GUARDIAN, readers, "fq:q:1", has_button("fq:skip:1"))
        question = await play.type(
            GUARDIAN,
            t.gettext("Maths goes well, and he likes his new class teacher."),
            has_button("fq:skip:2"),
        )
        question = await play.type(
            GUARDIAN,
            t.gettext(
                "Mornings are hard: he often misses the first lesson, and then the day goes badly."
            ),
            has_button("fq:skip:3"),
        )
        for option in ("concentration", "attendance"):
            key = f"fq:opt:3:{option}"
            question = await play.press(
                GUARDIAN, question, key, lambda m, k=key: button(m, k)["text"].startswith("☑")
            )
        question = await play.press(GUARDIAN, question, "fq:q:4", has_button("fq:skip:4"))
        while not has_button("fq:send")(question):
            number = int(button(question, "fq:skip:")["callback_data"].split(":")[2])
            question = await play.press(
                GUARDIAN,
                question,
                f"fq:skip:{number}",
                lambda m, n=number: has_button(f"fq:skip:{n + 1}")(m) or has_button("fq:send")(m),
            )
        await play.press(GUARDIAN, question, "fq:send")
        await play.settle()

    async def job_due(self, kind: str, hours: int | None = None) -> datetime:
        async with self.services.sessions() as session:
            jobs = (
                await session.scalars(
                    select(Job).where(Job.meeting_id == self.meeting_id, Job.kind == kind)
                )
            ).all()
        return next(j.due_at for j in jobs if hours is None or j.payload.get("hours") == hours)

    async def time_passes(self, moment: datetime) -> None:
        """Run the job worker as if it were `moment`, and say which jobs did something."""
        t = self.t
        self.transcript.heading(t.datetime(moment))
        done = await self.player.at(moment)
        # The answer deadline and the family's reminder come due too, but have nothing to
        # do: the time is fixed and the family has answered.
        names = [
            t.gettext(JOB_NAMES[key])
            for job in done
            if (key := (job.kind, job.payload.get("hours"))) in JOB_NAMES
        ]
        self.transcript.note(
            t.gettext(
                "The job worker runs as if it were then: {jobs}.",
                jobs="; ".join(names) or t.gettext("nothing to do"),
            ),
            flush=False,
        )
        await self.player.settle()

    async def summary(self) -> None:
        play = self.player
        await self.time_passes(await self.job_due(SUMMARY))
        ready = await play.message_to(TEACHER, lambda m: "/s/" in m.get("text", ""))
        url = next(word for word in ready["text"].split() if "/s/" in word)
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            page = PageText()
            page.feed(await response.text())
        self.transcript.page(TEACHER, url, page.lines)

    async def reminder(self) -> None:
        """The reminder a day before, or — when that came with the summary, as it does for
        a meeting at the start of office hours — the one an hour before."""
        summary, day_before = await self.job_due(SUMMARY), await self.job_due(REMINDER, 24)
        hour_before = await self.job_due(REMINDER, 1)
        await self.time_passes(day_before if day_before > summary else hour_before)

    # -- after the meeting -----------------------------------------------------------------

    async def plan(self) -> None:
        t, play = self.t, self.player
        moment = await self.job_due(PLAN_PROMPT)
        await self.time_passes(moment)
        self.transcript.heading(
            t.gettext("{name} records the joint plan and sends it", name="Stina")
        )
        prompt = await play.message_to(CONVENER, has_button("plan:"))
        overview = await play.press(CONVENER, prompt, "plan:", has_button("pl:add"))
        today = moment.astimezone(ZoneInfo(self.services.settings.timezone)).date()
        items = [
            (
                t.gettext("A quiet place to work and support with reading twice a week"),
                t.gettext("Eeva, special-needs teacher"),
                day_month(today + timedelta(days=14), today),
            ),
            (
                t.gettext(
                    "A morning routine agreed at home; the school calls if he is not there by 9"
                ),
                t.gettext("Maija and Olli"),
                None,
            ),
        ]
        for what, who, by_when in items:
            await play.press(CONVENER, overview, "pl:add")
            await play.type(CONVENER, what, has_button("pl:skip"))
            asked = await play.type(CONVENER, who, has_button("pl:skip"))
            if by_when:
                overview = await play.type(CONVENER, by_when, has_button("pl:send"))
            else:
                overview = await play.press(CONVENER, asked, "pl:skip", has_button("pl:send"))
        await play.press(CONVENER, overview, "pl:send")
        await play.settle()

    async def feedback(self) -> None:
        t, play = self.t, self.player
        self.transcript.heading(t.gettext("{name} answers the feedback question", name="Maija"))
        asked = await play.message_to(GUARDIAN, has_button("fb:"))
        data = button(asked, "fb:")["callback_data"].rsplit(":", 1)[0]
        await play.press(GUARDIAN, asked, f"{data}:no", has_button("fbdone"))
        await play.type(GUARDIAN, t.gettext("This time everyone already knew. Thank you."))
        await play.settle()
