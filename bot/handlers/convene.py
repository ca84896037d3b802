"""/uusi (/new): convening a meeting, step by step, with /peru (/cancel) at any step.

Type → case label → length → place or link → date window → answer deadline → the circle →
candidate times → sent to the circle. The meeting exists as a DRAFT from the deadline step
on; stopping deletes the draft, so nothing half-made is left behind.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from scheduling import meetings
from scheduling.availability import propose_times
from scheduling.db import transaction
from scheduling.errors import InvalidInput
from scheduling.i18n import N_, Nn_, Translator
from scheduling.models import (
    CandidateSource,
    FamilyRole,
    Meeting,
    MeetingState,
    MeetingType,
    Professional,
    ProfessionalState,
    Sector,
)
from scheduling.people import approved_professional
from scheduling.timeparse import parse_date, parse_date_range, parse_moment

from ..commands import CANCEL, NEW
from ..context import Context, services, translator_for
from ..messages import in_language, role_names
from ..vocabulary import sector_name

TYPE, MY_ROLE, LABEL, LENGTH, PLACE, WINDOW, DEADLINE, CIRCLE, FIND, ROLE, TIMES = range(11)
DEADLINE_HOUR = time(16, 0)
FAMILY_ROLES = {
    "guardian": FamilyRole.GUARDIAN,
    "foster_parent": FamilyRole.FOSTER_PARENT,
    "child": FamilyRole.CHILD,
}


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def column(buttons: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button a row."""
    return keyboard([[button] for button in buttons])


def draft(context: Context) -> dict:
    return context.user_data.setdefault("convene", {})


async def say(update: Update, text: str, buttons: InlineKeyboardMarkup | None = None) -> None:
    """Answer in place of the pressed button's message, or with a new message to typed text."""
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text, reply_markup=buttons)
    else:
        await update.effective_message.reply_text(text, reply_markup=buttons)


async def refuse(update: Update, t: Translator, error: InvalidInput) -> None:
    text = error.render(t)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


# -- type, label, length, place ------------------------------------------------------------------


async def begin(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        professional = await approved_professional(session, update.effective_user.id)
    if professional is None:
        await update.effective_message.reply_text(
            t.gettext(
                "Only professionals approved in Kerralla can convene and see meetings. "
                "Ask your administrator for an invitation link."
            )
        )
        return ConversationHandler.END
    context.user_data["convene"] = {}
    async with services(context).sessions() as session:
        types = (
            await session.scalars(
                select(MeetingType).where(MeetingType.active).order_by(MeetingType.position)
            )
        ).all()
    rows = [[(in_language(kind.names, t.locale), f"cv:type:{kind.id}")] for kind in types]
    await update.effective_message.reply_text(
        t.gettext(
            "What kind of meeting are you convening? (Stop at any time with {cancel}.)",
            cancel=CANCEL.slash(t.locale),
        ),
        reply_markup=keyboard(rows),
    )
    return TYPE


async def chose_type(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    async with services(context).sessions() as session:
        kind = await session.scalar(
            select(MeetingType)
            .where(MeetingType.id == int(update.callback_query.data.rsplit(":", 1)[1]))
            .options(selectinload(MeetingType.roles))
        )
    if kind is None or not kind.active:
        await update.callback_query.answer(
            t.gettext("This button is no longer valid."), show_alert=True
        )
        return TYPE
    draft(context).update(type=kind.id, default_length=kind.default_duration_minutes)
    rows = [
        [(in_language(role.names, t.locale), f"cv:me:{role.key}")]
        for role in kind.roles
        if not role.is_family
    ]
    rows.append([(t.gettext("Only convening"), f"cv:me:{meetings.CONVENER_ROLE}")])
    await say(
        update,
        t.gettext(
            "{type}. What is your own role in this meeting?", type=in_language(kind.names, t.locale)
        ),
        keyboard(rows),
    )
    return MY_ROLE


async def chose_my_role(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    key = update.callback_query.data.split(":", 2)[2]
    async with services(context).sessions() as session:
        kind = await session.scalar(
            select(MeetingType)
            .where(MeetingType.id == draft(context).get("type", 0))
            .options(selectinload(MeetingType.roles))
        )
    roles = {role.key for role in kind.roles if not role.is_family} if kind else set()
    if kind is None or key not in roles | {meetings.CONVENER_ROLE}:
        await refuse(update, t, InvalidInput(N_("This button is no longer valid.")))
        return MY_ROLE
    draft(context)["my_role"] = key
    await say(
        update,
        t.gettext(
            "{type}. Give the meeting a case label that does not identify the family, for "
            "example initials and a number: AK-12. Never a personal identity code.",
            type=in_language(kind.names, t.locale),
        ),
    )
    return LABEL


async def gave_label(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    try:
        label = meetings.check_case_label(update.effective_message.text or "")
    except InvalidInput as error:
        await refuse(update, t, error)
        return LABEL
    draft(context)["label"] = label
    default = draft(context)["default_length"]
    choices = sorted({default, 60, 90, 120})
    rows = [[(t.duration(m), f"cv:len:{m}") for m in choices]]
    await update.effective_message.reply_text(
        t.gettext("How long will the meeting take? Choose, or write the minutes (e.g. 75)."),
        reply_markup=keyboard(rows),
    )
    return LENGTH


async def chose_length(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    if update.callback_query is not None:
        minutes = int(update.callback_query.data.rsplit(":", 1)[1])
    else:
        text = (update.effective_message.text or "").strip()
        minutes = int(text) if text.isdigit() and len(text) <= 3 else 0
    try:
        draft(context)["length"] = meetings.check_duration(minutes)
    except InvalidInput as error:
        await refuse(update, t, error)
        return LENGTH
    await say(
        update,
        t.gettext(
            "{length}. Where will you meet? Write the place, or paste the link of the online "
            "meeting (https://…).",
            length=t.duration(minutes),
        ),
    )
    return PLACE


async def gave_place(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    try:
        place, link = meetings.check_place(update.effective_message.text or "")
    except InvalidInput as error:
        await refuse(update, t, error)
        return PLACE
    draft(context).update(place=place, link=link)
    async with services(context).sessions() as session:
        kind = await session.get(MeetingType, draft(context)["type"])
    rows = [[(t.gettext("Next 2 weeks"), "cv:win:14"), (t.gettext("Next 4 weeks"), "cv:win:28")]]
    if kind is not None and kind.is_series:
        rows.append([(t.gettext("In 2–3 months"), "cv:win:series")])
    await update.effective_message.reply_text(
        t.gettext("When should the meeting be? Choose, or write the dates like 1.12.–18.12."),
        reply_markup=keyboard(rows),
    )
    return WINDOW


def today_in(context: Context) -> datetime:
    return services(context).now().astimezone(ZoneInfo(services(context).settings.timezone))


async def chose_window(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    today = today_in(context).date()
    if update.callback_query is not None:
        choice = update.callback_query.data.rsplit(":", 1)[1]
        if choice == "series":
            window = (today + timedelta(days=60), today + timedelta(days=90))
        else:
            window = (today + timedelta(days=1), today + timedelta(days=int(choice)))
    else:
        try:
            window = parse_date_range(update.effective_message.text or "", today)
        except InvalidInput as error:
            await refuse(update, t, error)
            return WINDOW
    limit = services(context).settings.max_window_days
    if window[1] < window[0] or window[1] < today or (window[1] - window[0]).days + 1 > limit:
        await refuse(
            update,
            t,
            InvalidInput(
                Nn_(
                    "The dates must be in the future, the first before the last, "
                    "and at most {n} day apart.",
                    "The dates must be in the future, the first before the last, "
                    "and at most {n} days apart.",
                ),
                n=limit,
            ),
        )
        return WINDOW
    draft(context)["window"] = (window[0].isoformat(), window[1].isoformat())
    rows = [
        [(t.gettext("In 3 days"), "cv:dl:3"), (t.gettext("In a week"), "cv:dl:7")],
    ]
    await say(
        update,
        t.gettext(
            "{first} – {last}. By when should everyone answer? Choose, or write a date like 18.12.",
            first=t.date(window[0]),
            last=t.date(window[1]),
        ),
        keyboard(rows),
    )
    return DEADLINE


async def chose_deadline(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    zone = ZoneInfo(svc.settings.timezone)
    now_local = today_in(context)
    try:
        if update.callback_query is not None:
            day = now_local.date() + timedelta(days=int(update.callback_query.data.rsplit(":")[2]))
        else:
            day = parse_date(update.effective_message.text or "", now_local.date())
    except InvalidInput as error:
        await refuse(update, t, error)
        return DEADLINE
    deadline = datetime.combine(day, DEADLINE_HOUR, zone)
    first, last = (datetime.fromisoformat(d).date() for d in draft(context)["window"])
    if deadline <= now_local or day > last:
        await refuse(
            update,
            t,
            InvalidInput(
                N_("The deadline must be in the future and no later than the last day, {last}."),
                last=t.date(last),
            ),
        )
        return DEADLINE
    plan = draft(context)
    async with transaction(svc.sessions) as session:
        convener = await approved_professional(session, update.effective_user.id)
        kind = await session.get(MeetingType, plan["type"])
        if convener is None or kind is None:  # revoked, or the type removed, meanwhile
            context.user_data.pop("convene", None)
            await refuse(update, t, InvalidInput(N_("This button is no longer valid.")))
            return ConversationHandler.END
        meeting = await meetings.start(
            session,
            convener,
            kind,
            case_label=plan["label"],
            duration_minutes=plan["length"],
            place=plan["place"],
            online_url=plan["link"],
            window=(first, last),
            answer_deadline=deadline.astimezone(UTC),
            settings=svc.settings,
            now=svc.now(),
            convener_role=plan["my_role"],
        )
        plan["meeting"] = meeting.id
    await show_circle(update, context, t)
    return CIRCLE


# -- the circle --------------------------------------------------------------------------------


async def show_circle(update: Update, context: Context, t: Translator, note: str = "") -> None:
    async with services(context).sessions() as session:
        meeting = await meetings.load(session, draft(context)["meeting"])
    assert meeting is not None
    names = role_names(t, meeting.meeting_type)
    lines = [t.gettext("The circle of {label}:", label=meeting.case_label)]
    for seat in meeting.participants:
        who = (
            seat.professional.display_name
            if seat.professional
            else (
                seat.family_member.label
                if seat.family_member and seat.family_member.label
                else None
            )
        ) or t.gettext("(invitation link not opened yet)")
        mark = " *" if seat.required else ""
        lines.append(f"• {names.get(seat.role, seat.role)}{mark}: {who}")
    missing = meetings.missing_roles(meeting)
    if missing:
        lines.append(t.gettext("Still needed: {roles}", roles=", ".join(names[k] for k in missing)))
    lines.append(t.gettext("* must answer before the time is fixed"))
    rows = [
        [(t.gettext("Add from the directory"), "cv:dir")],
        [(t.gettext("Invitation link for a role"), "cv:link")],
        [(t.gettext("Done: propose times"), "cv:done")],
    ]
    text = (note + "\n\n" if note else "") + "\n".join(lines)
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text, reply_markup=keyboard(rows))
    else:
        await update.effective_message.reply_text(text, reply_markup=keyboard(rows))


async def directory(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    rows = [[(sector_name(t, sector), f"cv:sec:{sector.value}")] for sector in Sector]
    await say(
        update,
        t.gettext("Choose a sector, or write part of a name."),
        keyboard(rows),
    )
    return FIND


async def found(update: Update, context: Context) -> int:
    """Professionals of a sector, or whose name contains what was written."""
    t = await translator_for(update, context)
    query = select(Professional).where(Professional.state == ProfessionalState.APPROVED)
    if update.callback_query is not None:
        sector = update.callback_query.data.rsplit(":", 1)[1]
        if sector not in {s.value for s in Sector}:
            await refuse(update, t, InvalidInput(N_("This button is no longer valid.")))
            return FIND
        query = query.where(Professional.sector == Sector(sector))
    else:
        text = (update.effective_message.text or "").strip()
        if len(text) < 2:
            await update.effective_message.reply_text(t.gettext("Write at least two letters."))
            return FIND
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(Professional.display_name).like(pattern),
                func.lower(Professional.title).like(pattern),
            )
        )
    async with services(context).sessions() as session:
        people = (await session.scalars(query.order_by(Professional.display_name).limit(12))).all()
    if not people:
        await say(
            update,
            t.gettext("Nobody found. Try another sector or name."),
            keyboard([[(t.gettext("Back to the circle"), "cv:back")]]),
        )
        return FIND
    rows = [[(f"{p.display_name}, {p.title}", f"cv:pro:{p.id}")] for p in people]
    rows.append([(t.gettext("Back to the circle"), "cv:back")])
    await say(update, t.gettext("Whom do you add?"), keyboard(rows))
    return FIND


async def picked(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    draft(context)["adding"] = int(update.callback_query.data.rsplit(":", 1)[1])
    return await ask_role(update, context, t, family=False)


async def invitation_link(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    draft(context)["adding"] = None
    return await ask_role(update, context, t, family=True)


async def ask_role(update: Update, context: Context, t: Translator, *, family: bool) -> int:
    async with services(context).sessions() as session:
        meeting = await meetings.load(session, draft(context)["meeting"])
    assert meeting is not None
    rows = [
        [
            (
                in_language(role.names, t.locale) + (" *" if role.required else ""),
                f"cv:role:{role.key}",
            )
        ]
        for role in meeting.meeting_type.roles
        if family or not role.is_family
    ]
    rows.append([(t.gettext("Back to the circle"), "cv:back")])
    await say(update, t.gettext("In which role?"), keyboard(rows))
    return ROLE


async def chose_role(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    key = update.callback_query.data.split(":", 2)[2]
    plan = draft(context)
    note = ""
    async with transaction(svc.sessions) as session:
        meeting = await meetings.load(session, plan["meeting"])
        role = next((r for r in meeting.meeting_type.roles if r.key == key), None)
        if role is None or meeting.state != MeetingState.DRAFT:
            await refuse(update, t, InvalidInput(N_("This button is no longer valid.")))
            return ROLE
        try:
            if plan.get("adding"):
                professional = await session.get(Professional, plan["adding"])
                await meetings.seat_professional(
                    session, meeting, professional, role.key, required=role.required
                )
            else:
                family_role = (
                    FAMILY_ROLES.get(role.key, FamilyRole.OTHER) if role.is_family else None
                )
                opened = await meetings.open_seat(
                    session,
                    meeting,
                    role.key,
                    family_role=family_role,
                    required=role.required,
                    locale=t.locale,
                    now=svc.now(),
                )
                link = f"https://t.me/{context.bot.username}?start={opened.telegram_token}"
                if opened.web_token is not None:
                    link += "\n" + t.gettext(
                        "Without Telegram, on the web: {link}",
                        link=f"{svc.settings.base_url}/f/{opened.web_token}",
                    )
                # Translators: {role} is a role name as stored (nominative); build the
                # sentence so that it need not be inflected.
                note = t.gettext(
                    "Here is a one-time link to this place in the circle ({role}). Send it "
                    "yourself (by text message, for example); whoever opens it takes the "
                    "place:\n{link}",
                    role=in_language(role.names, t.locale),
                    link=link,
                )
        except InvalidInput as error:
            await refuse(update, t, error)
            return ROLE
    await show_circle(update, context, t, note)
    return CIRCLE


async def back_to_circle(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    await show_circle(update, context, t)
    return CIRCLE


# -- times ------------------------------------------------------------------------------------


async def circle_done(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    async with svc.sessions() as session:
        meeting = await meetings.load(session, draft(context)["meeting"])
        assert meeting is not None
        if meetings.missing_roles(meeting):
            names = role_names(t, meeting.meeting_type)
            await refuse(
                update,
                t,
                InvalidInput(
                    N_("Add the required roles first: {roles}."),
                    roles=", ".join(names[k] for k in meetings.missing_roles(meeting)),
                ),
            )
            return CIRCLE
        try:
            proposal = await propose_times(
                session, meeting, svc.settings, svc.now(), cache=svc.calendar_cache, limit=5
            )
        except InvalidInput as error:
            await refuse(update, t, error)
            return CIRCLE
    draft(context)["times"] = [c.start.isoformat() for c in proposal.candidates]
    draft(context)["dropped"] = []
    note = "\n".join(unknown.render(t) for unknown in proposal.unknown)
    await show_times(update, context, t, note)
    return TIMES


async def show_times(update: Update, context: Context, t: Translator, note: str = "") -> None:
    plan = draft(context)
    times = [datetime.fromisoformat(s) for s in plan["times"]]
    length = timedelta(minutes=plan["length"])
    rows = []
    for index, start in enumerate(times):
        dropped = index in plan["dropped"]
        label = ("✗ " if dropped else "✓ ") + t.time_range(start, start + length)
        rows.append([(label, f"cv:t:{index}")])
    rows.append([(t.gettext("Send to the circle"), "cv:send")])
    text = t.gettext(
        "Proposed times. Tap a time to leave it out or take it back, or write a time of your "
        "own, like ti 1.12. klo 14."
    )
    if not times:
        text = t.gettext(
            "Kerralla found no time when everyone required is free. Write times of your own, "
            "like ti 1.12. klo 14."
        )
    if note:
        text = note + "\n\n" + text
    await say(update, text, keyboard(rows))


async def toggle_time(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    plan = draft(context)
    index = int(update.callback_query.data.rsplit(":", 1)[1])
    if index >= len(plan.get("times", [])):
        await refuse(update, t, InvalidInput(N_("This button is no longer valid.")))
        return TIMES
    dropped = set(plan["dropped"]) ^ {index}
    plan["dropped"] = sorted(dropped)
    await show_times(update, context, t)
    return TIMES


async def own_time(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    try:
        start = parse_moment(
            update.effective_message.text or "", today_in(context).date(), svc.settings.timezone
        )
        if start <= svc.now():
            raise InvalidInput(N_("That time has already passed."))
    except InvalidInput as error:
        await refuse(update, t, error)
        return TIMES
    plan = draft(context)
    key = start.astimezone(UTC).isoformat()
    if key not in plan["times"]:
        plan["times"].append(key)
        plan.setdefault("own", []).append(key)
    await show_times(update, context, t)
    return TIMES


async def send(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    svc = services(context)
    plan = draft(context)
    chosen = [
        (
            datetime.fromisoformat(s),
            CandidateSource.ADDED if s in plan.get("own", []) else CandidateSource.PROPOSED,
        )
        for i, s in enumerate(plan["times"])
        if i not in plan["dropped"]
    ]
    try:
        async with transaction(svc.sessions) as session:
            meeting = await meetings.load(session, plan["meeting"], lock=True)
            await meetings.set_candidates(session, meeting, chosen, svc.now())
            await meetings.send_for_answers(session, meeting, svc.settings, svc.now())
    except InvalidInput as error:
        await refuse(update, t, error)
        return TIMES
    svc.outbox_wake.set()
    context.user_data.pop("convene", None)
    await say(
        update,
        t.ngettext(
            "Sent. The circle now answers {n} time; you will see the answers here as they come.",
            "Sent. The circle now answers {n} times; you will see the answers here as they come.",
            len(chosen),
        ),
    )
    return ConversationHandler.END


async def next_meeting(update: Update, context: Context) -> int:
    """From a meeting's card: the next one of the series, same type and circle, in two taps."""
    t = await translator_for(update, context)
    svc = services(context)
    query = update.callback_query
    try:
        async with transaction(svc.sessions) as session:
            previous = await meetings.load(session, int(query.data.split(":")[1]))
            by = await approved_professional(session, update.effective_user.id)
            if previous is None or not meetings.can_manage(previous, by):
                raise InvalidInput(N_("This button is no longer valid."))
            meeting = await meetings.next_in_series(
                session, previous, svc.settings, svc.now(), by=by
            )
            proposal = await propose_times(
                session, meeting, svc.settings, svc.now(), cache=svc.calendar_cache, limit=5
            )
    except InvalidInput as error:
        await refuse(update, t, error)
        return ConversationHandler.END
    context.user_data["convene"] = {
        "meeting": meeting.id,
        "type": meeting.meeting_type_id,
        "length": meeting.duration_minutes,
        "dropped": [],
        "times": [c.start.isoformat() for c in proposal.candidates],
    }
    note = "\n".join(
        [
            t.gettext(
                "The next meeting, with the same circle: {first} – {last}.",
                first=t.date(meeting.window_start),
                last=t.date(meeting.window_end),
            )
        ]
        + [unknown.render(t) for unknown in proposal.unknown]
    )
    await show_times(update, context, t, note)
    return TIMES


# -- stopping and stray input -----------------------------------------------------------------


async def stop(update: Update, context: Context) -> int:
    t = await translator_for(update, context)
    plan = context.user_data.pop("convene", {})
    if plan.get("meeting"):
        async with transaction(services(context).sessions) as session:
            meeting = await session.get(Meeting, plan["meeting"])
            if meeting is not None and meeting.state == MeetingState.DRAFT:
                await session.delete(meeting)
    await update.effective_message.reply_text(t.gettext("Stopped. Nothing was saved."))
    return ConversationHandler.END


async def expected_button(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext(
            "Please choose with the buttons above, or stop with {cancel}.",
            cancel=CANCEL.slash(t.locale),
        )
    )


async def expected_text(update: Update, context: Context) -> None:
    t = await translator_for(update, context)
    await update.effective_message.reply_text(
        t.gettext("Please answer with text, or stop with {cancel}.", cancel=CANCEL.slash(t.locale))
    )


def install(application: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    button = CallbackQueryHandler
    application.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler(list(NEW.names), begin),
                CallbackQueryHandler(next_meeting, pattern=r"^next:\d+$"),
            ],
            states={
                TYPE: [button(chose_type, pattern=r"^cv:type:\d+$")],
                MY_ROLE: [button(chose_my_role, pattern=r"^cv:me:\w+$")],
                LABEL: [MessageHandler(text, gave_label)],
                LENGTH: [
                    button(chose_length, pattern=r"^cv:len:\d+$"),
                    MessageHandler(text, chose_length),
                ],
                PLACE: [MessageHandler(text, gave_place)],
                WINDOW: [
                    button(chose_window, pattern=r"^cv:win:(\d+|series)$"),
                    MessageHandler(text, chose_window),
                ],
                DEADLINE: [
                    button(chose_deadline, pattern=r"^cv:dl:\d+$"),
                    MessageHandler(text, chose_deadline),
                ],
                CIRCLE: [
                    button(directory, pattern="^cv:dir$"),
                    button(invitation_link, pattern="^cv:link$"),
                    button(circle_done, pattern="^cv:done$"),
                ],
                FIND: [
                    button(found, pattern=r"^cv:sec:\w+$"),
                    button(picked, pattern=r"^cv:pro:\d+$"),
                    button(back_to_circle, pattern="^cv:back$"),
                    MessageHandler(text, found),
                ],
                ROLE: [
                    button(chose_role, pattern=r"^cv:role:\w+$"),
                    button(back_to_circle, pattern="^cv:back$"),
                ],
                TIMES: [
                    button(toggle_time, pattern=r"^cv:t:\d+$"),
                    button(send, pattern="^cv:send$"),
                    MessageHandler(text, own_time),
                ],
            },
            fallbacks=[
                CommandHandler(list(CANCEL.names), stop),
                CommandHandler(list(NEW.names), begin),
                MessageHandler(filters.TEXT & ~filters.COMMAND, expected_button),
                MessageHandler(~filters.TEXT & ~filters.COMMAND, expected_text),
            ],
            name="convene",
            allow_reentry=True,
        )
    )
