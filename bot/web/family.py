"""The family's own pages, reached only by the family member's secret link: when and where the
meeting is, the meeting for their calendar, and the questions before it.

Plain server-rendered HTML that works without JavaScript on a phone: one question per screen,
each answer saved when the family moves on, so closing the tab loses nothing. Every form
carries a CSRF value bound to the link (an HMAC with the data key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduling import family_data, feedback, plans, questionnaire
from scheduling.calendar_files import for_participant
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import (
    FAMILY_LANGUAGES,
    LOCALES,
    N_,
    PLAIN_FINNISH,
    Translator,
    negotiate_locale,
    translator,
)
from scheduling.meetings import FamilyView, family_view
from scheduling.models import (
    AccessChannel,
    FeedbackAnswer,
    MeetingState,
    Organisation,
    Professional,
    QuestionKind,
    QuestionnaireResponse,
    ResponseState,
)

from ..messages import in_language
from ..vocabulary import FEEDBACK_CHOICES
from .context import SERVICES
from .pages import render

TOKEN = r"{token:[A-Za-z0-9_-]{1,64}}"
WEB = AccessChannel.WEB


# -- who and in which language ----------------------------------------------------------------


def language(request: web.Request, link_language: str | None, default: str) -> str:
    """The switcher's choice, then the language the link was made in, then the browser's."""
    asked = request.query.get("lang", "")
    if asked in LOCALES:
        return asked
    if link_language in LOCALES:
        return link_language
    return negotiate_locale(request.headers.get("Accept-Language"), default)


def csrf_value(request: web.Request) -> str:
    key = request.app[SERVICES].settings.data_key
    assert key is not None  # build_web_app refuses to start without one
    secret = key.get_secret_value().encode()
    token = request.match_info["token"].encode()
    return hmac.new(secret, b"family-form:" + token, hashlib.sha256).hexdigest()


@dataclass
class Visit:
    """One request on a family page: who (the link's person), the translator to use, and
    whether the questions are in plain Finnish."""

    view: FamilyView
    t: Translator
    token: str
    plain: bool = False

    @property
    def code(self) -> str:
        """The page's language as the switcher names it: fi, fi-selko, sv or en."""
        return PLAIN_FINNISH if self.plain else self.t.locale

    def url(self, path: str = "") -> str:
        return f"/f/{self.token}{path}?lang={self.code}"

    async def questions(
        self, session: AsyncSession, response: QuestionnaireResponse
    ) -> list[questionnaire.Asked]:
        """The member's questions in the page's language: the switcher changes them too."""
        member = self.view.seat.family_member
        return await questionnaire.questions(session, response, member, self.t.locale, self.plain)


async def visit(request: web.Request, session) -> Visit | None:  # type: ignore[no-untyped-def]
    services = request.app[SERVICES]
    view = await family_view(session, request.match_info["token"], services.now())
    if view is None:
        return None
    asked = request.query.get("lang", "")
    if asked == PLAIN_FINNISH:
        locale, plain = "fi", True
    else:
        locale = language(request, view.locale, services.settings.default_locale)
        member = view.seat.family_member
        plain = asked not in LOCALES and locale == "fi" and member.plain_language
    t = translator(locale, view.meeting.time_zone)
    return Visit(view, t, request.match_info["token"], plain)


def not_valid(request: web.Request) -> web.Response:
    settings = request.app[SERVICES].settings
    t = translator(language(request, None, settings.default_locale), settings.timezone)
    response = render(request, "link_not_valid.html", t)
    response.set_status(404)
    return response


def page(request: web.Request, visit: Visit, template: str, **values: object) -> web.Response:
    settings = request.app[SERVICES].settings
    return render(
        request,
        template,
        visit.t,
        meeting=visit.view.meeting,
        token=visit.token,
        url=visit.url,
        csrf=csrf_value(request),
        title=settings.invitation_title or visit.t.gettext("Meeting"),
        choices=FAMILY_LANGUAGES,
        chosen=visit.code,
        **values,
    )


async def checked_form(request: web.Request) -> dict[str, list[str]]:
    form = await request.post()
    sent = str(form.get("csrf", "")).encode("utf-8")  # bytes: any text compares, none matches
    if not hmac.compare_digest(sent, csrf_value(request).encode()):
        raise web.HTTPForbidden(text="The form has expired; go back and try again.")
    values: dict[str, list[str]] = {}
    for key, value in form.items():
        values.setdefault(key, []).append(str(value))
    return values


# -- the meeting -------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    async with request.app[SERVICES].sessions() as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        member = found.view.seat.family_member
        response = await questionnaire.response_for(session, found.view.meeting, member)
        until = await questionnaire.deadline(session, found.view.meeting)
        plan = await plans.shared_lines(
            session, found.view.meeting.id, request.app[SERVICES].settings
        )
    meeting = found.view.meeting
    open_ = (
        response is not None
        and meeting.state in {MeetingState.DRAFT, MeetingState.COLLECTING, MeetingState.SCHEDULED}
        and (until is None or request.app[SERVICES].now() < until)
    )
    return page(
        request,
        found,
        "family.html",
        scheduled=meeting.state in {MeetingState.SCHEDULED, MeetingState.HELD},
        cancelled=meeting.state == MeetingState.CANCELLED,
        calendar_url=f"/f/{found.token}/kerralla.ics",
        questions_open=open_,
        submitted=response is not None and response.state == ResponseState.SUBMITTED,
        deadline=found.t.datetime(until) if until else None,
        plan=plan,
        held=meeting.state == MeetingState.HELD,
    )


async def calendar_file(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    async with services.sessions() as session:
        found = await visit(request, session)
    if found is None or found.view.meeting.starts_at is None:
        raise web.HTTPNotFound()
    page_link = f"{services.settings.base_url}/f/{found.token}"  # back to this page
    file = for_participant(
        found.view.meeting, found.view.seat, found.t, services.settings, services.now(), page_link
    )
    if file is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=file.content,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# -- who may read the answers ---------------------------------------------------------------


async def consent_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    redirect = None
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        meeting, member = found.view.meeting, found.view.seat.family_member
        response = await questionnaire.response_for(session, meeting, member)
        if response is None:
            return not_valid(request)
        if request.method == "POST":
            form = await checked_form(request)
            chosen = set(form.get("reader", []))
            try:
                for seat in meeting.participants:
                    if seat.professional_id is not None:
                        await questionnaire.set_consent(
                            session,
                            meeting,
                            member,
                            response,
                            seat.id,
                            str(seat.id) in chosen,
                            services.now(),
                            WEB,
                        )
            except InvalidInput as error:
                return page(request, found, "family_closed.html", reason=error.render(found.t))
            try:  # on to the questions while they are open; afterwards back to "your data"
                await questionnaire.check_open(session, meeting, services.now())
                redirect = found.url("/q/1")
            except InvalidInput:
                redirect = found.url("/data")
        organisations = dict(
            (
                await session.execute(
                    select(Professional.id, Organisation.name)
                    .join(Organisation)
                    .where(
                        Professional.id.in_(
                            [p.professional_id for p in meeting.participants if p.professional_id]
                        )
                    )
                )
            ).all()
        )
        roles = {r.key: in_language(r.names, found.t.locale) for r in meeting.meeting_type.roles}
        people = [
            {
                "id": seat.id,
                "role": roles.get(seat.role, seat.role),
                "organisation": organisations.get(seat.professional_id, ""),
                "chosen": seat.id in questionnaire.readers(response),
            }
            for seat in meeting.participants
            if seat.professional_id is not None
        ]
    if redirect is not None:  # after the commit: what was chosen is kept
        raise web.HTTPSeeOther(redirect)
    keep_days = services.settings.retention_answers_days
    return page(request, found, "family_consent.html", people=people, keep_days=keep_days)


# -- the questions, one at a time -------------------------------------------------------------


async def question_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    number = int(request.match_info["number"])
    redirect = None
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        meeting, member = found.view.meeting, found.view.seat.family_member
        response = await questionnaire.response_for(session, meeting, member)
        if response is None:
            return not_valid(request)
        asked = await found.questions(session, response)
        if not 1 <= number <= len(asked):
            raise web.HTTPSeeOther(found.url("/review"))
        question = asked[number - 1]
        error, invalid = None, False
        if request.method == "POST":
            form = await checked_form(request)
            action = (form.get("action") or ["next"])[0]
            value: str | list[str] | None
            if question.kind == QuestionKind.FREE_TEXT:
                value = (form.get("answer") or [""])[0]
            elif question.kind == QuestionKind.ONE_CHOICE:
                value = (form.get("answer") or [None])[0]
            else:
                value = form.get("answer", [])
            if action == "autosave":  # the page's script, while the family writes
                try:
                    await questionnaire.save_answer(
                        session,
                        meeting,
                        member,
                        response,
                        question,
                        value,
                        services.settings,
                        services.now(),
                        WEB,
                    )
                except InvalidInput:
                    return web.Response(status=422)
                return web.Response(status=204)  # committed as the block ends
            target = number - 1 if action == "back" else number + 1
            try:
                await questionnaire.check_open(session, meeting, services.now())
            except InvalidInput as closed:  # nothing can be saved: "back" still goes back
                if action != "back":
                    error = closed.render(found.t)
            else:
                try:  # "skip" takes back whatever was written; "back" keeps what is on the page
                    await questionnaire.save_answer(
                        session,
                        meeting,
                        member,
                        response,
                        question,
                        None if action == "skip" else value,
                        services.settings,
                        services.now(),
                        WEB,
                    )
                except InvalidInput as refusal:  # the answer itself: the field is marked
                    error, invalid = refusal.render(found.t), True
            if error is None:
                redirect = found.url(f"/q/{target}" if target >= 1 else "/consent")
        saved = questionnaire.read_answers(response, services.settings).get(question.id)
        if error is not None and question.kind == QuestionKind.FREE_TEXT:
            saved = value  # what they wrote stays on the page for them to shorten or fix
    if redirect is not None:  # after the commit: the answer is kept before moving on
        raise web.HTTPSeeOther(redirect)
    return page(
        request,
        found,
        "family_question.html",
        question=question,
        number=number,
        total=len(asked),
        saved=saved,
        error=error,
        invalid=invalid,
    )


async def review_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    redirect = None
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        meeting, member = found.view.meeting, found.view.seat.family_member
        response = await questionnaire.response_for(session, meeting, member)
        if response is None:
            return not_valid(request)
        error = None
        if request.method == "POST":
            await checked_form(request)
            try:
                await questionnaire.submit(session, meeting, member, response, services.now(), WEB)
                redirect = found.url("/review") + "&sent=1"
            except InvalidInput as refusal:
                error = refusal.render(found.t)
        asked = await found.questions(session, response)
        answers = questionnaire.read_answers(response, services.settings)
        written_in = questionnaire.written_in(response)
        questionnaire.audit(session, member, "answers.read", response, WEB, services.now())
        rows = []
        for number, question in enumerate(asked, 1):
            value = questionnaire.as_shown(question, answers.get(question.id))
            rows.append(
                {
                    "number": number,
                    "question": question.text,
                    "answer": value,
                    "lang": questionnaire.answer_language(question, written_in, member),
                }
            )
        until = await questionnaire.deadline(session, meeting)
        submitted = response.state == ResponseState.SUBMITTED
        readers = len(questionnaire.readers(response))
    if redirect is not None:
        raise web.HTTPSeeOther(redirect)
    return page(
        request,
        found,
        "family_review.html",
        rows=rows,
        submitted=submitted,
        error=error,
        sent=request.query.get("sent") == "1",
        readers=readers,
        deadline=found.t.datetime(until) if until else None,
    )


async def feedback_page(request: web.Request) -> web.Response:
    """The one question after the meeting, with an optional comment; answering again changes it."""
    services = request.app[SERVICES]
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        meeting, member = found.view.meeting, found.view.seat.family_member
        error = invalid = None
        comment = ""
        if request.method == "POST":
            form = await checked_form(request)
            comment = form.get("comment", [""])[0]
            try:
                choice = form.get("answer", [""])[0]
                if choice not in FEEDBACK_CHOICES:
                    invalid = "answer"
                    raise InvalidInput(N_("Choose one of the answers."))
                await feedback.record(
                    session, meeting, member, FeedbackAnswer(choice), services.now()
                )
                invalid = "comment"
                await feedback.comment(session, meeting, member, comment, services.settings)
            except InvalidInput as refusal:
                error = refusal.render(found.t)
        given = await feedback.of(session, meeting, member)
        is_open = meeting.state == MeetingState.HELD
    return page(
        request,
        found,
        "family_feedback.html",
        options=[(key, found.t.gettext(label)) for key, label in FEEDBACK_CHOICES.items()],
        picked=given.answer.value if given else None,
        thanked=given is not None and request.method == "POST" and error is None,
        is_open=is_open,
        error=error,
        invalid=invalid if error else None,
        comment=comment if error else "",  # refused: what they wrote stays for them to send again
    )


async def data_page(request: web.Request) -> web.Response:
    """The family member's rights: see who may read, download everything, delete the answers."""
    services = request.app[SERVICES]
    deleted = None
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        member = found.view.seat.family_member
        error = None
        if request.method == "POST":
            form = await checked_form(request)
            if form.get("confirm") != ["yes"]:
                error = found.t.gettext("Tick the box to confirm that you want to delete them.")
            else:
                deleted = await family_data.delete_answers(session, member, services.now(), WEB)
    if deleted is not None:
        raise web.HTTPSeeOther(found.url("/data") + "&deleted=1")
    return page(
        request,
        found,
        "family_data.html",
        error=error,
        deleted=request.query.get("deleted") == "1",
    )


async def data_download(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await request.post()  # the whole body first: the write lock is never held while it arrives
    async with transaction(services.sessions) as session:
        found = await visit(request, session)
        if found is None:
            return not_valid(request)
        data = await family_data.export(
            session, found.view.seat.family_member, services.settings, services.now(), WEB
        )
    return web.Response(
        body=json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="kerralla-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", f"/f/{TOKEN}/data", data_page)
    app.router.add_get(f"/f/{TOKEN}/kerralla-my-data.json", data_download)
    app.router.add_route("*", f"/f/{TOKEN}/feedback", feedback_page)
    app.router.add_get(f"/f/{TOKEN}", overview)
    app.router.add_get(f"/f/{TOKEN}/kerralla.ics", calendar_file)
    app.router.add_route("*", f"/f/{TOKEN}/consent", consent_page)
    app.router.add_route("*", f"/f/{TOKEN}/q/{{number:\\d{{1,2}}}}", question_page)
    app.router.add_route("*", f"/f/{TOKEN}/review", review_page)
