"""Meeting types, question sets and organisations as data: a TOML file an administrator loads.

One file may hold any of three lists, `organisations`, `question_sets` and `meeting_types`
(`scheduling/data/defaults.toml` is the shipped example of the last two,
`examples/organisations.toml` of the first). `load_catalog` checks the whole file first, then
upserts by key (slug for organisations) in the caller's session and transaction: anything wrong
raises `CatalogError` with one line naming the item, before anything is written. Items the file
does not mention are left alone.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from os import PathLike
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .models import (
    Answer,
    BlockedPeriod,
    MeetingType,
    MeetingTypeRole,
    Organisation,
    Question,
    QuestionKind,
    QuestionSet,
    Sector,
    utcnow,
)

DEFAULTS_PATH = Path(__file__).parent / "data" / "defaults.toml"
NAME_LANGUAGES = ("fi", "sv", "en")
QUESTION_LANGUAGES = ("fi", "fi-selko", "sv", "en")
# The key under which a question's optional help texts are kept in `Question.texts`.
HELP = "help"


class CatalogError(Exception):
    """A catalog file that cannot be loaded; the message is one line for the administrator."""


# --- the file's schema ---------------------------------------------------------------------

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z]+)?")
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_FINNISH_DATE = re.compile(r"\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*")
_HOURS = re.compile(r"\s*(\d{1,2})(?:[.:](\d{2}))?\s*[-–—]\s*(\d{1,2})(?:[.:](\d{2}))?\s*")
_OPEN_HOURS = re.compile(
    r"\s*(?:(\d{1,2})(?:[.:](\d{2}))?)?\s*[-–—]\s*(?:(\d{1,2})(?:[.:](\d{2}))?)?\s*"
)


def _texts(*required: str) -> AfterValidator:
    def check(texts: dict[str, str]) -> dict[str, str]:
        for language in required:
            if language not in texts:
                raise ValueError(f'missing "{language}"')
        for language, value in texts.items():
            if not _LANGUAGE.fullmatch(language):
                raise ValueError(f'"{language}" is not a language code (fi, fi-selko, sv, en, …)')
            if not value.strip():
                raise ValueError(f'"{language}" is empty')
        return {language: value.strip() for language, value in texts.items()}

    return AfterValidator(check)


def _key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ValueError(
            f'"{value}" is not a key: use lower-case letters, digits, "-" and "_", at most 64'
        )
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f'"{value}" is not a time zone (for example "Europe/Helsinki")') from None
    return value


def _office_hours(value: Any) -> tuple[time, time]:
    match = _HOURS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not office hours: write them as "8.00–16.00"')
    h1, m1, h2, m2 = (int(part or 0) for part in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f'"{value}" is not a time of day range such as "8.00–16.00"') from None
    if end <= start:
        raise ValueError(f'"{value}": the end is not after the start')
    return start, end


def _preferred_hours(value: Any) -> tuple[time | None, time | None]:
    """ "13.00–15.30", or with one end open: "12.00–" (after 12.00), "–11.00" (before 11.00)."""
    match = _OPEN_HOURS.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match[1] is None and match[3] is None):
        raise ValueError(
            f'{value!r} is not preferred hours: write them as "13.00–15.30", "12.00–" (after '
            '12.00) or "–11.00" (before 11.00)'
        )
    try:
        start, end = (
            None if hour is None else time(int(hour), int(minute or 0))
            for hour, minute in (match.group(1, 2), match.group(3, 4))
        )
    except ValueError:
        raise ValueError(f'"{value}" is not a time of day range such as "13.00–15.30"') from None
    if start is not None and end is not None and end <= start:
        raise ValueError(f'"{value}": the end is not after the start')
    return start, end


def _date(value: Any) -> Any:
    """TOML dates (2026-10-12), ISO strings, or dates as Finns write them: "12.10.2026"."""
    match = _FINNISH_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return value
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f'"{value}" is not a date') from None


def _weekdays(value: str) -> str:
    if not value or any(c not in "1234567" for c in value) or len(set(value)) != len(value):
        raise ValueError(
            f'"{value}" is not working weekdays: digits 1 (Monday) to 7 (Sunday), each once, '
            'such as "12345"'
        )
    return "".join(sorted(value))


Key = Annotated[str, AfterValidator(_key)]
Names = Annotated[dict[str, str], _texts(*NAME_LANGUAGES)]
QuestionTexts = Annotated[dict[str, str], _texts(*QUESTION_LANGUAGES)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


def _unique(cls: type, items: list[Any], info: ValidationInfo) -> list[Any]:
    """A field validator: keys (slugs for organisations) are unique within a list."""
    attribute = "slug" if info.field_name == "organisations" else "key"
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        value = getattr(item, attribute)
        if value in seen:
            raise ValueError(
                f'{attribute} "{value}" is used twice: '
                f"{info.field_name}[{seen[value]}] and {info.field_name}[{i}]"
            )
        seen[value] = i
    return items


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Day = Annotated[date, BeforeValidator(_date)]


class BlockedIn(_Item):
    starts: Day
    ends: Day
    label: Label

    @model_validator(mode="after")
    def _order(self) -> BlockedIn:
        if self.ends < self.starts:
            raise ValueError(f"ends ({self.ends}) is before starts ({self.starts})")
        return self


class OrganisationIn(_Item):
    slug: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    municipality: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "Europe/Helsinki"
    office_hours: Annotated[tuple[time, time], BeforeValidator(_office_hours)] = (
        time(8),
        time(16),
    )
    working_weekdays: Annotated[
        str,
        BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
        AfterValidator(_weekdays),
    ] = "12345"
    preferred_hours: Annotated[
        tuple[time | None, time | None], BeforeValidator(_preferred_hours)
    ] = (None, None)
    summary_in_chat_allowed: bool = False
    blocked: list[BlockedIn] = []

    @model_validator(mode="after")
    def _preferred_within_office_hours(self) -> OrganisationIn:
        (opens, closes), (start, end) = self.office_hours, self.preferred_hours
        if (start is not None and not opens <= start < closes) or (
            end is not None and not opens < end <= closes
        ):
            raise ValueError(
                "preferred_hours: they must lie within the office hours "
                f"({opens.hour}.{opens.minute:02}–{closes.hour}.{closes.minute:02})"
            )
        return self


class OptionIn(_Item):
    key: Key
    texts: QuestionTexts


class QuestionIn(_Item):
    key: Key
    kind: QuestionKind
    texts: QuestionTexts
    help: QuestionTexts | None = None
    options: list[OptionIn] = []
    for_child: bool = False

    _unique_options = field_validator("options")(_unique)

    @model_validator(mode="after")
    def _options(self) -> QuestionIn:
        if self.kind is QuestionKind.FREE_TEXT and self.options:
            raise ValueError("a free_text question has no options")
        if self.kind is not QuestionKind.FREE_TEXT and len(self.options) < 2:
            raise ValueError(f"a {self.kind} question needs at least two options")
        return self

    def stored_texts(self) -> dict[str, Any]:
        return {**self.texts, HELP: self.help} if self.help else dict(self.texts)

    def stored_options(self) -> list[dict[str, Any]] | None:
        return [o.model_dump() for o in self.options] if self.options else None


class QuestionSetIn(_Item):
    key: Key
    names: Names
    questions: Annotated[list[QuestionIn], Field(min_length=1)]

    _unique_questions = field_validator("questions")(_unique)


class RoleIn(_Item):
    key: Key
    names: Names
    sector: Sector | None = None
    is_family: bool = False
    required: bool = False

    @model_validator(mode="after")
    def _sector(self) -> RoleIn:
        if self.is_family and self.sector is not None:
            raise ValueError("a family role (is_family = true) has no sector")
        if not self.is_family and self.sector is None:
            raise ValueError('missing "sector" (or is_family = true for a family role)')
        return self


class MeetingTypeIn(_Item):
    key: Key
    names: Names
    descriptions: Names | None = None
    default_duration_minutes: Annotated[int, Field(ge=15, le=480)] = 90
    is_series: bool = False
    series_interval_days_min: Annotated[int, Field(ge=1, le=730)] | None = None
    series_interval_days_max: Annotated[int, Field(ge=1, le=730)] | None = None
    sectors: Annotated[list[Sector], Field(min_length=1)]
    question_set: Key | None = None
    position: int | None = None
    active: bool = True
    roles: Annotated[list[RoleIn], Field(min_length=1)]

    _unique_roles = field_validator("roles")(_unique)

    @field_validator("sectors")
    @classmethod
    def _distinct(cls, sectors: list[Sector]) -> list[Sector]:
        if len(set(sectors)) != len(sectors):
            raise ValueError("a sector is listed twice")
        return sectors

    @model_validator(mode="after")
    def _consistent(self) -> MeetingTypeIn:
        low, high = self.series_interval_days_min, self.series_interval_days_max
        if self.is_series and (low is None or high is None):
            raise ValueError("a series (is_series = true) needs series_interval_days_min and _max")
        if not self.is_series and (low is not None or high is not None):
            raise ValueError("series_interval_days_min/_max are only for is_series = true")
        if low is not None and high is not None and low > high:
            raise ValueError(
                f"series_interval_days_min ({low}) is more than series_interval_days_max ({high})"
            )
        for i, role in enumerate(self.roles):
            if role.sector is not None and role.sector not in self.sectors:
                raise ValueError(
                    f'roles[{i}] ({role.key}): sector "{role.sector}" is not among the '
                    f"type's sectors ({', '.join(self.sectors)})"
                )
        return self


class CatalogIn(_Item):
    organisations: list[OrganisationIn] = []
    question_sets: list[QuestionSetIn] = []
    meeting_types: list[MeetingTypeIn] = []

    _unique_items = field_validator("organisations", "question_sets", "meeting_types")(_unique)


# --- reading and checking ------------------------------------------------------------------


def parse_toml(source: str, name: str = "the file") -> dict[str, Any]:
    try:
        return tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{name} is not valid TOML: {exc}") from None


def read_catalog_file(path: str | PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CatalogError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_toml(source, str(path))


def load_defaults_text() -> str:
    return DEFAULTS_PATH.read_text(encoding="utf-8")


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """`meeting_types[1] (sisukas).roles[3].names` for a pydantic location in the raw data."""
    out, node = "", raw
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            out += f"[{part}]"
            name = node.get("key", node.get("slug")) if isinstance(node, dict) else None
            if isinstance(name, str):
                out += f" ({name})"
        else:
            node = node.get(part) if isinstance(node, dict) else None
            out += f".{part}" if out else part
    return out


def _describe(raw: Any, error: Any) -> str:
    loc, kind, message = tuple(error["loc"]), error["type"], error["msg"]
    if kind in ("missing", "extra_forbidden"):
        message = f'{"missing" if kind == "missing" else "unknown field"} "{loc[-1]}"'
        loc = loc[:-1]
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "enum":
        message = f'"{error["input"]}" is not one of {error["ctx"]["expected"]}'
    else:
        message = f"{message[:1].lower()}{message[1:]}, got {error['input']!r}"
    where = _where(raw, loc)
    return f"{where}: {message}" if where else message


def check_catalog(raw: Mapping[str, Any]) -> CatalogIn:
    """The file's content checked and normalised, or CatalogError naming the first problem."""
    try:
        catalog = CatalogIn.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = len(errors) - 1
        more_text = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise CatalogError(_describe(raw, errors[0]) + more_text) from None
    if not (catalog.organisations or catalog.question_sets or catalog.meeting_types):
        raise CatalogError("nothing to load: no organisations, question_sets or meeting_types")
    return catalog


# --- loading -------------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class LoadReport:
    organisations: Counts = field(default_factory=Counts)
    question_sets: Counts = field(default_factory=Counts)
    meeting_types: Counts = field(default_factory=Counts)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in self._kinds().values())

    def _kinds(self) -> dict[str, Counts]:
        return {
            "organisations": self.organisations,
            "question sets": self.question_sets,
            "meeting types": self.meeting_types,
        }

    def lines(self) -> list[str]:
        """`meeting types: 1 created, 2 updated, 1 unchanged`, for each kind the file had."""
        return [
            f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for kind, c in self._kinds().items()
            if c.created or c.updated or c.unchanged
        ]


def _count(counts: Counts, row: Any, before: Any, after: Any) -> bool:
    """Count a row as created, updated or unchanged; True when it must be written."""
    if row is None:
        counts.created += 1
    elif before == after:
        counts.unchanged += 1
        return False
    else:
        counts.updated += 1
        row.updated_at = utcnow()
    return True


def _org_state(o: Organisation | OrganisationIn) -> tuple[Any, ...]:
    if isinstance(o, OrganisationIn):
        hours, blocked = o.office_hours, [(b.starts, b.ends, b.label) for b in o.blocked]
    else:
        hours = (o.office_hours_start, o.office_hours_end)
        blocked = [(b.starts_on, b.ends_on, b.label) for b in o.blocked_periods]
    common = (o.name, o.municipality, o.time_zone, o.working_weekdays, o.summary_in_chat_allowed)
    return (*common, hours, _preferred_state(o), sorted(blocked))


def _preferred_state(o: Organisation | OrganisationIn) -> tuple[time | None, time | None]:
    if isinstance(o, OrganisationIn):
        return o.preferred_hours
    return (o.preferred_hours_start, o.preferred_hours_end)


def _question_state(q: Question | QuestionIn) -> tuple[Any, ...]:
    if isinstance(q, QuestionIn):
        return (q.key, q.kind, q.stored_texts(), q.stored_options(), q.for_child)
    return (q.key, q.kind, q.texts, q.options, q.for_child)


def _role_state(r: MeetingTypeRole | RoleIn) -> tuple[Any, ...]:
    return (r.key, r.names, r.sector, r.is_family, r.required)


def _type_state(t: MeetingType | MeetingTypeIn, position: int) -> tuple[Any, ...]:
    if isinstance(t, MeetingTypeIn):
        set_key = t.question_set
    else:
        set_key = t.question_set.key if t.question_set else None
    low, high = t.series_interval_days_min, t.series_interval_days_max
    return (
        *(t.names, t.descriptions, t.default_duration_minutes, t.is_series, low, high),
        *([str(s) for s in t.sectors], set_key, position, t.active),
        [_role_state(r) for r in t.roles],
    )


async def _upsert_organisations(
    session: AsyncSession, items: list[OrganisationIn], counts: Counts
) -> None:
    existing = {
        o.slug: o
        for o in await session.scalars(
            select(Organisation)
            .where(Organisation.slug.in_([i.slug for i in items]))
            .options(selectinload(Organisation.blocked_periods))
        )
    }
    for item in items:
        row = existing.get(item.slug)
        if not _count(counts, row, row and _org_state(row), _org_state(item)):
            continue
        if row is None:
            row = Organisation(slug=item.slug)
            session.add(row)
        row.name, row.municipality, row.time_zone = item.name, item.municipality, item.time_zone
        row.office_hours_start, row.office_hours_end = item.office_hours
        row.working_weekdays = item.working_weekdays
        row.preferred_hours_start, row.preferred_hours_end = item.preferred_hours
        row.summary_in_chat_allowed = item.summary_in_chat_allowed
        row.blocked_periods = [
            BlockedPeriod(starts_on=b.starts, ends_on=b.ends, label=b.label) for b in item.blocked
        ]


async def _existing_sets(session: AsyncSession, keys: set[str]) -> dict[str, QuestionSet]:
    rows = await session.scalars(
        select(QuestionSet)
        .where(QuestionSet.key.in_(keys))
        .options(selectinload(QuestionSet.questions))
    )
    return {s.key: s for s in rows}


async def _check_answered(
    session: AsyncSession, catalog: CatalogIn, existing: dict[str, QuestionSet]
) -> None:
    """Refuse removing, or changing the kind of, a question that already has answers."""
    at_risk: dict[int, str] = {}
    for i, item in enumerate(catalog.question_sets):
        stored = existing.get(item.key)
        if stored is None:
            continue
        wanted = {q.key: (j, q) for j, q in enumerate(item.questions)}
        for question in stored.questions:
            where = f"question_sets[{i}] ({item.key}).questions"
            if question.key not in wanted:
                at_risk[question.id] = (
                    f'{where}: question "{question.key}" has answers and cannot be removed '
                    "(keep it in the file)"
                )
            elif wanted[question.key][1].kind != question.kind:
                j, new = wanted[question.key]
                at_risk[question.id] = (
                    f"{where}[{j}] ({question.key}).kind: the question has answers, so its kind "
                    f"cannot change from {question.kind} to {new.kind}"
                )
    if at_risk:
        answered = await session.scalars(
            select(Answer.question_id).where(Answer.question_id.in_(at_risk)).distinct()
        )
        for question_id in sorted(answered):
            raise CatalogError(at_risk[question_id])


async def _upsert_question_sets(
    session: AsyncSession,
    items: list[QuestionSetIn],
    existing: dict[str, QuestionSet],
    counts: Counts,
) -> None:
    for item in items:
        row = existing.get(item.key)
        before = row and (row.names, [_question_state(q) for q in row.questions])
        after = (item.names, [_question_state(q) for q in item.questions])
        if not _count(counts, row, before, after):
            continue
        if row is None:
            row = existing[item.key] = QuestionSet(key=item.key, questions=[])
            session.add(row)
        row.names = item.names
        kept = {q.key: q for q in row.questions}
        wanted = {q.key for q in item.questions}
        # Positions are unique within a set: move the kept questions out of the way and
        # delete the removed ones first, then give every question its place.
        for question in list(row.questions):
            if question.key in wanted:
                question.position = -1 - question.position
            else:
                row.questions.remove(question)
        await session.flush()
        for position, spec in enumerate(item.questions):
            question = kept.get(spec.key)
            if question is None:
                question = Question(key=spec.key)
                row.questions.append(question)
            question.position, question.kind, question.for_child = (
                position,
                spec.kind,
                spec.for_child,
            )
            question.texts, question.options = spec.stored_texts(), spec.stored_options()
        await session.flush()


async def _upsert_meeting_types(
    session: AsyncSession,
    items: list[MeetingTypeIn],
    sets: dict[str, QuestionSet],
    counts: Counts,
) -> None:
    existing = {
        t.key: t
        for t in await session.scalars(
            select(MeetingType)
            .where(MeetingType.key.in_([i.key for i in items]))
            .options(selectinload(MeetingType.roles), selectinload(MeetingType.question_set))
        )
    }
    next_position = await session.scalar(select(func.coalesce(func.max(MeetingType.position), -1)))
    assert next_position is not None
    for item in items:
        row = existing.get(item.key)
        if item.position is not None:
            position = item.position
        elif row is not None:
            position = row.position
        else:
            next_position = position = next_position + 1
        before = row and _type_state(row, row.position)
        if not _count(counts, row, before, _type_state(item, position)):
            continue
        if row is None:
            row = MeetingType(key=item.key, roles=[])
            session.add(row)
        row.names, row.descriptions = item.names, item.descriptions
        row.default_duration_minutes, row.is_series = item.default_duration_minutes, item.is_series
        row.series_interval_days_min = item.series_interval_days_min
        row.series_interval_days_max = item.series_interval_days_max
        row.sectors = [str(s) for s in item.sectors]
        row.question_set = sets[item.question_set] if item.question_set else None
        row.position, row.active = position, item.active
        kept = {r.key: r for r in row.roles}
        roles = []
        for i, spec in enumerate(item.roles):
            role = kept.get(spec.key) or MeetingTypeRole(key=spec.key)
            role.names, role.sector, role.is_family = spec.names, spec.sector, spec.is_family
            role.required, role.position = spec.required, i
            roles.append(role)
        row.roles = roles


async def load_catalog(
    session: AsyncSession, data: Mapping[str, Any] | str | PathLike[str]
) -> LoadReport:
    """Check a catalog (a parsed mapping, or the path of a TOML file) and upsert it by key.

    Runs in the caller's transaction and writes nothing unless the whole file is valid.
    """
    raw = data if isinstance(data, Mapping) else read_catalog_file(data)
    catalog = check_catalog(raw)
    report = LoadReport()

    file_sets = {s.key for s in catalog.question_sets}
    referenced = {t.question_set for t in catalog.meeting_types if t.question_set}
    sets = await _existing_sets(session, file_sets | referenced)
    for i, item in enumerate(catalog.meeting_types):
        if item.question_set and item.question_set not in file_sets | set(sets):
            raise CatalogError(
                f"meeting_types[{i}] ({item.key}).question_set: no question set "
                f'"{item.question_set}" in this file or in the database'
            )
    await _check_answered(session, catalog, sets)

    await _upsert_organisations(session, catalog.organisations, report.organisations)
    await _upsert_question_sets(session, catalog.question_sets, sets, report.question_sets)
    await _upsert_meeting_types(session, catalog.meeting_types, sets, report.meeting_types)
    await session.flush()
    return report


async def ensure_defaults(session: AsyncSession) -> LoadReport | None:
    """On first start (no meeting types at all), load the shipped defaults; else do nothing."""
    if session.get_bind().dialect.name == "postgresql":
        # Several workers may start at once: the first loads, the others then find its types.
        await session.execute(text("SELECT pg_advisory_xact_lock(7242556870516031)"))
    if await session.scalar(select(func.count()).select_from(MeetingType)):
        return None
    return await load_catalog(session, read_catalog_file(DEFAULTS_PATH))
