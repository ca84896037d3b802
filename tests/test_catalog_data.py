"""Meeting types, question sets and organisations load from TOML, in place, or not at all."""

from __future__ import annotations

import asyncio
import copy
import tomllib
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from scheduling.catalog_data import (
    DEFAULTS_PATH,
    QUESTION_LANGUAGES,
    CatalogError,
    LoadReport,
    check_catalog,
    ensure_defaults,
    load_catalog,
    load_defaults_text,
    parse_toml,
    read_catalog_file,
)
from scheduling.models import (
    Answer,
    BlockedPeriod,
    MeetingType,
    MeetingTypeRole,
    Organisation,
    Question,
    QuestionKind,
    QuestionnaireResponse,
    QuestionSet,
    Sector,
)

from . import factories as f

Sessions = async_sessionmaker[AsyncSession]
EXAMPLE = Path(__file__).parent.parent / "examples" / "organisations.toml"
TABLES = (Organisation, BlockedPeriod, QuestionSet, Question, MeetingType, MeetingTypeRole)


def defaults() -> dict[str, Any]:
    return tomllib.loads(load_defaults_text())


async def load(sessions: Sessions, data: Any) -> LoadReport:
    async with sessions() as session, session.begin():
        return await load_catalog(session, data)


async def row_counts(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        return {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table))
            for table in TABLES
        }


async def types_by_key(session: AsyncSession) -> dict[str, MeetingType]:
    rows = await session.scalars(
        select(MeetingType).options(
            selectinload(MeetingType.roles), selectinload(MeetingType.question_set)
        )
    )
    return {t.key: t for t in rows}


async def sets_by_key(session: AsyncSession) -> dict[str, QuestionSet]:
    rows = await session.scalars(select(QuestionSet).options(selectinload(QuestionSet.questions)))
    return {s.key: s for s in rows}


async def test_shipped_defaults_load_into_an_empty_database(sessions: Sessions) -> None:
    report = await load(sessions, DEFAULTS_PATH)
    assert (report.meeting_types.created, report.question_sets.created) == (4, 3)
    assert report.lines() == [
        "question sets: 3 created, 0 updated, 0 unchanged",
        "meeting types: 4 created, 0 updated, 0 unchanged",
    ]
    async with sessions() as session:
        types = await types_by_key(session)
        sets = await sets_by_key(session)
    assert list(types) == ["perhekeskustiimi", "sisukas", "pikku-sisukas", "tyoparikonsultaatio"]
    assert [t.position for t in types.values()] == [0, 1, 2, 3]

    sisukas = types["sisukas"]
    assert sisukas.is_series and (
        sisukas.series_interval_days_min,
        sisukas.series_interval_days_max,
    ) == (60, 90)
    assert sisukas.sectors == ["school", "child_protection"]
    assert sisukas.question_set is not None and sisukas.question_set.key == "sisukas"
    required = {r.key for r in sisukas.roles if r.required}
    assert required == {"responsible_social_worker", "teacher"}
    # Foster parents or an institution's staff: the convener adds whichever applies.
    assert {"foster_parent", "institution_worker"} <= {r.key for r in sisukas.roles}
    assert "child" in {r.key for r in sisukas.roles if r.is_family and not r.required}
    teacher = next(r for r in sisukas.roles if r.key == "teacher")
    assert teacher.sector is Sector.SCHOOL and teacher.names["sv"] == "lärare"
    assert [r.position for r in sisukas.roles] == list(range(len(sisukas.roles)))
    consultation = types["tyoparikonsultaatio"]
    assert consultation.default_duration_minutes == 60 and not consultation.is_series
    assert {r.key for r in consultation.roles if r.required} == {
        "social_worker",
        "special_social_worker",
    }
    assert types["pikku-sisukas"].question_set.key == "pikku-sisukas"  # type: ignore[union-attr]

    for question_set in sets.values():
        assert set(question_set.names) == {"fi", "sv", "en"}
        assert [q.position for q in question_set.questions] == list(
            range(len(question_set.questions))
        )
        for question in question_set.questions:
            assert set(QUESTION_LANGUAGES) <= set(question.texts)
            for option in question.options or []:
                assert set(option["texts"]) == set(QUESTION_LANGUAGES)
    family = sets["perhe"].questions
    assert [q.key for q in family][:2] == ["going_well", "worries"]
    assert {"know_before", "wanted_people", "unwanted_people", "not_in_front_of_child"} <= {
        q.key for q in family
    }
    child = next(q for q in family if q.key == "child_view")
    assert child.for_child and child.texts["help"]["fi-selko"]
    choice = next(q for q in family if q.key == "child_present")
    assert choice.kind is QuestionKind.ONE_CHOICE and len(choice.options or []) == 4
    assert any(q.for_child for q in sets["sisukas"].questions)


async def test_loading_twice_changes_nothing(sessions: Sessions) -> None:
    await load(sessions, DEFAULTS_PATH)
    before = await row_counts(sessions)
    async with sessions() as session:
        stamps = {t.key: t.updated_at for t in (await types_by_key(session)).values()}
    report = await load(sessions, DEFAULTS_PATH)
    assert not report.changed
    assert report.lines() == [
        "question sets: 0 created, 0 updated, 3 unchanged",
        "meeting types: 0 created, 0 updated, 4 unchanged",
    ]
    assert await row_counts(sessions) == before
    async with sessions() as session:
        assert {t.key: t.updated_at for t in (await types_by_key(session)).values()} == stamps


async def test_an_edited_type_is_updated_in_place(sessions: Sessions) -> None:
    await load(sessions, DEFAULTS_PATH)
    async with sessions() as session:
        old = (await types_by_key(session))["sisukas"]
        role_ids = {r.key: r.id for r in old.roles}
    data = defaults()
    sisukas = data["meeting_types"][1]
    sisukas["names"]["fi"] = "Sisukas-verkostotapaaminen"
    sisukas["roles"].append(
        {
            "key": "school_nurse",
            "sector": "school",
            "names": {
                "fi": "kouluterveydenhoitaja",
                "sv": "skolhälsovårdare",
                "en": "school nurse",
            },
        }
    )
    report = await load(sessions, {"meeting_types": [sisukas]})
    assert (report.meeting_types.updated, report.meeting_types.created) == (1, 0)
    async with sessions() as session:
        types = await types_by_key(session)
    new = types["sisukas"]
    assert new.id == old.id and new.names["fi"] == "Sisukas-verkostotapaaminen"
    assert new.position == old.position and new.updated_at > old.updated_at
    assert {r.key: r.id for r in new.roles[:-1]} == role_ids
    assert (new.roles[-1].key, new.roles[-1].position) == ("school_nurse", len(role_ids))
    assert len(types) == 4  # the types the file did not mention are still there


async def test_a_new_type_comes_after_the_existing_ones(sessions: Sessions) -> None:
    data = defaults()
    await load(
        sessions,
        {"question_sets": data["question_sets"][:1], "meeting_types": data["meeting_types"][:1]},
    )
    report = await load(sessions, {"meeting_types": [data["meeting_types"][3]]})
    assert report.lines() == ["meeting types: 1 created, 0 updated, 0 unchanged"]
    async with sessions() as session:
        types = await types_by_key(session)
    assert [(k, t.position) for k, t in types.items()] == [
        ("perhekeskustiimi", 0),
        ("tyoparikonsultaatio", 1),
    ]
    # The consultation's question set was found in the database.
    assert types["tyoparikonsultaatio"].question_set_id == types["perhekeskustiimi"].question_set_id


async def test_questions_can_be_reordered_removed_and_added(sessions: Sessions) -> None:
    await load(sessions, DEFAULTS_PATH)
    async with sessions() as session:
        old = {q.key: q.id for q in (await sets_by_key(session))["perhe"].questions}
    perhe = defaults()["question_sets"][0]
    questions = perhe["questions"]
    questions[0], questions[1] = questions[1], questions[0]
    new_question = copy.deepcopy(questions[2])
    new_question["key"] = "new_question"
    questions[2] = new_question
    report = await load(sessions, {"question_sets": [perhe]})
    assert report.question_sets.updated == 1
    async with sessions() as session:
        stored = (await sets_by_key(session))["perhe"].questions
    assert [q.key for q in stored] == [q["key"] for q in questions]
    assert [q.position for q in stored] == list(range(len(questions)))
    assert stored[0].id == old["worries"] and stored[1].id == old["going_well"]
    assert "help_topics" not in {q.key for q in stored}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        node: Any = data
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        elif value is _DUPLICATE:
            node.append(copy.deepcopy(node[last]))
        else:
            node[last] = value

    return change


_DELETE, _DUPLICATE = object(), object()
ORGANISATION = {"slug": "koulu", "name": "Koulu", "office_hours": "8.00–16.00"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("meeting_types/1/roles/3/names/sv", _DELETE),
            'meeting_types[1] (sisukas).roles[3] (school_curator).names: missing "sv"',
        ),
        (
            _set("question_sets/0/questions/1/texts/fi-selko", _DELETE),
            'question_sets[0] (perhe).questions[1] (worries).texts: missing "fi-selko"',
        ),
        (
            _set("question_sets/0/questions/0/texts/sv", " "),
            'question_sets[0] (perhe).questions[0] (going_well).texts: "sv" is empty',
        ),
        (
            _set("meeting_types/1/roles/0", _DUPLICATE),
            'meeting_types[1] (sisukas).roles: key "responsible_social_worker" is used twice: '
            "roles[0] and roles[12]",
        ),
        (
            _set("meeting_types/1/roles/1/sector", "schools"),
            'meeting_types[1] (sisukas).roles[1] (teacher).sector: "schools" is not one of',
        ),
        (
            _set("meeting_types/0/sectors/0", "social_work"),
            'meeting_types[0] (perhekeskustiimi).sectors[0]: "social_work" is not one of',
        ),
        (
            _set("meeting_types/3/question_set", "konsultaatio"),
            "meeting_types[3] (tyoparikonsultaatio).question_set: "
            'no question set "konsultaatio" in this file or in the database',
        ),
        (
            _set("organisations", [{**ORGANISATION, "office_hours": "16.00–8.00"}]),
            'organisations[0] (koulu).office_hours: "16.00–8.00": the end is not after the start',
        ),
        (
            _set("organisations", [{**ORGANISATION, "office_hours": "kahdeksasta"}]),
            "organisations[0] (koulu).office_hours: 'kahdeksasta' is not office hours",
        ),
        (
            _set("organisations", [{**ORGANISATION, "preferred_hours": "iltapäivä"}]),
            "organisations[0] (koulu).preferred_hours: 'iltapäivä' is not preferred hours: "
            'write them as "13.00–15.30", "12.00–" (after 12.00) or "–11.00" (before 11.00)',
        ),
        (
            _set("organisations", [{**ORGANISATION, "preferred_hours": "15.30–13.00"}]),
            'organisations[0] (koulu).preferred_hours: "15.30–13.00": the end is not after the '
            "start",
        ),
        (
            _set("organisations", [{**ORGANISATION, "preferred_hours": "7.00–"}]),
            "organisations[0] (koulu): preferred_hours: they must lie within the office hours "
            "(8.00–16.00)",
        ),
        (
            _set("organisations", [{**ORGANISATION, "working_weekdays": "1123"}]),
            'organisations[0] (koulu).working_weekdays: "1123" is not working weekdays',
        ),
        (
            _set("organisations", [{**ORGANISATION, "time_zone": "Europe/Kuopio"}]),
            'organisations[0] (koulu).time_zone: "Europe/Kuopio" is not a time zone',
        ),
        (
            _set(
                "organisations",
                [
                    {
                        **ORGANISATION,
                        "blocked": [
                            {"starts": "2026-10-16", "ends": "2026-10-12", "label": "Syysloma"}
                        ],
                    }
                ],
            ),
            "organisations[0] (koulu).blocked[0]: ends (2026-10-12) is before starts (2026-10-16)",
        ),
        (
            _set("meeting_types/1/default_duration_minutes", 10),
            "meeting_types[1] (sisukas).default_duration_minutes: "
            "input should be greater than or equal to 15, got 10",
        ),
        (
            _set("meeting_types/1/series_interval_days_min", 120),
            "meeting_types[1] (sisukas): series_interval_days_min (120) is more than "
            "series_interval_days_max (90)",
        ),
        (
            _set("question_sets/0/questions/7/options", [{"key": "yes", "texts": {}}]),
            "question_sets[0] (perhe).questions[7] (child_present).options[0] (yes).texts: "
            'missing "fi"',
        ),
        (
            _set("question_sets/0/questions/2/options", []),
            "question_sets[0] (perhe).questions[2] (help_topics): "
            "a several_choices question needs at least two options",
        ),
        (
            _set("meeting_types/0/roles/0/colour", "green"),
            "meeting_types[0] (perhekeskustiimi).roles[0] (family_centre_worker): "
            'unknown field "colour"',
        ),
        (
            _set("meeting_types/2/roles/0/is_family", True),
            "meeting_types[2] (pikku-sisukas).roles[0] (foster_care_social_worker): "
            "a family role (is_family = true) has no sector",
        ),
        (
            _set("meeting_types/2/roles/0/sector", "school"),
            "meeting_types[2] (pikku-sisukas): roles[0] (foster_care_social_worker): "
            'sector "school" is not among',
        ),
        (
            _set("meeting_types/2/key", "Pikku Sisukas"),
            'meeting_types[2] (Pikku Sisukas).key: "Pikku Sisukas" is not a key',
        ),
    ],
)
async def test_a_bad_file_names_the_item_and_writes_nothing(
    sessions: Sessions, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = defaults()
    data["organisations"] = [ORGANISATION]
    change(data)
    with pytest.raises(CatalogError) as caught:
        await load(sessions, data)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)
    assert set((await row_counts(sessions)).values()) == {0}


async def test_a_question_with_answers_is_neither_removed_nor_changed_in_kind(
    sessions: Sessions,
) -> None:
    await load(sessions, DEFAULTS_PATH)
    async with sessions() as session, session.begin():
        sisukas = (await types_by_key(session))["sisukas"]
        question_set = (await sets_by_key(session))["sisukas"]
        org = await f.organisation(session)
        convener = await f.professional(session, org, telegram_id=4101)
        meeting = await f.meeting(session, convener, sisukas)
        guardian = await f.family_member(session)
        response = QuestionnaireResponse(
            meeting_id=meeting.id, family_member_id=guardian.id, question_set_id=question_set.id
        )
        session.add(response)
        await session.flush()
        worries = next(q for q in question_set.questions if q.key == "worries")
        session.add(Answer(response_id=response.id, question_id=worries.id, value_encrypted=b"x"))
    before = await row_counts(sessions)

    data = defaults()
    data["meeting_types"][1]["names"]["fi"] = "Uusi nimi"
    questions = data["question_sets"][1]["questions"]
    removed = copy.deepcopy(data)
    del removed["question_sets"][1]["questions"][1]
    with pytest.raises(CatalogError, match="has answers and cannot be removed") as caught:
        await load(sessions, removed)
    assert str(caught.value).startswith('question_sets[1] (sisukas).questions: question "worries"')

    questions[1]["kind"] = "one_choice"
    questions[1]["options"] = copy.deepcopy(questions[2]["options"])
    with pytest.raises(CatalogError) as caught:
        await load(sessions, data)
    assert str(caught.value) == (
        "question_sets[1] (sisukas).questions[1] (worries).kind: the question has answers, "
        "so its kind cannot change from free_text to one_choice"
    )
    assert await row_counts(sessions) == before
    async with sessions() as session:
        assert (await types_by_key(session))["sisukas"].names["fi"] == "Sisukas"

    # Its texts and place may still change.
    data = defaults()
    questions = data["question_sets"][1]["questions"]
    questions[1]["texts"]["fi"] = "Mikä sinua nyt huolestuttaa?"
    questions.insert(0, questions.pop(1))
    await load(sessions, {"question_sets": [data["question_sets"][1]]})
    async with sessions() as session:
        stored = await session.get(Question, worries.id)
        assert stored is not None
        assert (stored.position, stored.texts["fi"]) == (0, "Mikä sinua nyt huolestuttaa?")


async def test_the_example_organisations_load_with_their_blocked_periods(
    sessions: Sessions,
) -> None:
    report = await load(sessions, EXAMPLE)
    assert report.lines() == ["organisations: 4 created, 0 updated, 0 unchanged"]
    async with sessions() as session:
        rows = await session.scalars(
            select(Organisation).options(selectinload(Organisation.blocked_periods))
        )
        orgs = {o.slug: o for o in rows}
    school = orgs["kuusilahti-keskuskoulu"]
    assert (school.time_zone, school.working_weekdays) == ("Europe/Helsinki", "12345")
    assert (school.office_hours_start.isoformat(), school.office_hours_end.isoformat()) == (
        "08:00:00",
        "15:30:00",
    )
    assert (school.preferred_hours_start, school.preferred_hours_end) == (time(12), None)
    assert orgs["kuusilahti-lastensuojelu"].preferred_hours_start is None
    assert [(b.starts_on.isoformat(), b.label) for b in school.blocked_periods] == [
        ("2026-10-12", "Syysloma (viikko 42)"),
        ("2026-12-21", "Joululoma"),
        ("2027-03-01", "Talviloma (viikko 9)"),
    ]
    assert orgs["kuusilahti-lastensuojelu"].blocked_periods == []
    assert (
        not school.summary_in_chat_allowed
        and orgs["kuusilahti-perhekeskus"].summary_in_chat_allowed
    )

    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["organisations"][0]["office_hours"] = "8:00-16:00"
    data["organisations"][0]["preferred_hours"] = "13.00–15.30"
    data["organisations"][0]["blocked"] = [
        {"starts": "12.10.2026", "ends": "16.10.2026", "label": "Syysloma (viikko 42)"}
    ]
    report = await load(sessions, data)
    assert (report.organisations.updated, report.organisations.unchanged) == (1, 3)
    async with sessions() as session:
        school = await session.scalar(
            select(Organisation)
            .where(Organisation.slug == "kuusilahti-keskuskoulu")
            .options(selectinload(Organisation.blocked_periods))
        )
        assert school is not None and school.office_hours_end.hour == 16
        assert (school.preferred_hours_start, school.preferred_hours_end) == (
            time(13),
            time(15, 30),
        )
        assert [b.label for b in school.blocked_periods] == ["Syysloma (viikko 42)"]
        assert await session.scalar(select(func.count()).select_from(BlockedPeriod)) == 4


async def test_ensure_defaults_loads_only_on_first_start(sessions: Sessions) -> None:
    async def start() -> LoadReport | None:
        async with sessions() as session, session.begin():
            return await ensure_defaults(session)

    first, second = await asyncio.gather(start(), start())
    assert sorted([first is None, second is None]) == [False, True]
    counts = await row_counts(sessions)
    assert counts["meeting_types"] == 4
    assert await start() is None
    assert await row_counts(sessions) == counts

    async with sessions() as session, session.begin():
        await session.execute(MeetingType.__table__.delete().where(MeetingType.key != "sisukas"))
    assert await start() is None  # an administrator's choice of types is never undone


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"^types.toml is not valid TOML: .*line 2"):
        parse_toml("[[meeting_types]]\nkey = \n", "types.toml")
    with pytest.raises(CatalogError, match=r"cannot read .*missing\.toml"):
        read_catalog_file(tmp_path / "missing.toml")
    with pytest.raises(CatalogError, match="nothing to load"):
        check_catalog({"organisations": []})
    with pytest.raises(CatalogError, match=r'^unknown field "types"'):
        check_catalog({"types": []})
