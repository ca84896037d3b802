"""`kerralla demo` as a newcomer runs it: no token, no network, a whole Sisukas meeting printed
as each person sees it, in Finnish or Swedish, and a folder of emails and calendar files."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from pathlib import Path

import icalendar

from .test_run import KERRALLA, environment


def start_demo(tmp_path: Path, lang: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / f"demo-{lang}"
    process = subprocess.Popen(
        [KERRALLA, "demo", "--lang", lang, "--out", str(out)],
        cwd=tmp_path,
        env=environment(),  # no token, no database, no mail server of a developer's
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, out


def finished(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr
    assert stderr == ""
    return stdout


def calendars(message: email.message.EmailMessage) -> list[icalendar.Calendar]:
    return [
        icalendar.Calendar.from_ical(part.get_payload(decode=True))
        for part in message.walk()
        if part.get_content_type() == "text/calendar"
    ]


def test_the_demo_plays_a_whole_meeting_in_finnish_and_in_swedish(tmp_path: Path) -> None:
    # Both at once: each is a separate process with its own fake Telegram and database.
    (finnish, folder), (swedish, _) = start_demo(tmp_path, "fi"), start_demo(tmp_path, "sv")
    text, svenska = finished(finnish), finished(swedish)

    # Who sees what, step by step, in Finnish.
    for line in [
        "[Stina, sosiaalityöntekijä] → /uusi",
        "[Kerralla → Stina, sosiaalityöntekijä] Millaisen tapaamisen kutsut koolle?",
        "[Stina, sosiaalityöntekijä] → [ Sisukas ]",
        "[Kerralla → Olli, luokanopettaja] Stina Strand kutsuu sinut tapaamiseen: Sisukas – SIS-24",
        "[Kerralla → Maija, huoltaja] Olet nyt mukana tapaamisessa, jonka on kutsunut koolle "
        "Stina Strand.",
        "[Kerralla → Stina, sosiaalityöntekijä] Kaikki, joiden pitää vastata, ovat vastanneet",
        "[Kerralla → Pia, psykologi] Aika on sovittu: Sisukas – SIS-24",
        "[Kerralla → Maija, huoltaja] Aika on sovittu: Tapaaminen",
        "[Kerralla → ✉ olli.ojala@kuusilahti.example] Kutsu: Tapaaminen, ",
        "[Kerralla → Maija, huoltaja] ✎ Kiitos! Vastauksesi on tallennettu",
        "[Kerralla → Olli, luokanopettaja] Perheen vastaukset ennen tapaamista",
        "[Kerralla → Riitta, rehtori] Sisukas – SIS-24: perheen vastauksia ei jaeta sinulle "
        "tässä tapaamisessa.",
        "[Kerralla 🌐 → Olli, luokanopettaja] Perheen vastaukset",
        "[Kerralla → Eeva, erityisopettaja] Muistutus: Sisukas – SIS-24",
        "[Kerralla → Stina, sosiaalityöntekijä] Tapaaminen on pidetty: Sisukas – SIS-24.",
        "[Kerralla → Kalle, koulukuraattori] Yhteinen suunnitelma",
        "[Kerralla → Maija, huoltaja] Kiitos tapaamisesta",
        "[Kerralla → Maija, huoltaja] Kiitos palautteestasi.",
    ]:
        assert line in text, line
    # The family's words reach only the reader they chose, on the page the link opens.
    page = text.split("[Kerralla 🌐 → Olli, luokanopettaja]")[1]
    assert "Matematiikka sujuu" in page.split("\n──")[0]
    # The steps come in the order they happen.
    steps = [
        "→ /uusi",
        "Aika on sovittu",
        "Vastauksesi on tallennettu",
        "Perheen vastaukset ennen tapaamista",
        "Tapaaminen on pidetty",
        "Kiitos palautteestasi",
    ]
    assert [text.index(step) for step in steps] == sorted(text.index(step) for step in steps)

    # The school prefers the afternoon, when its teachers do not teach: the five proposed times
    # are after 12.00, on five days, at different times of day.
    assert "Kuusilahden koulu toivoo, että tapaamiset pidetään klo 12.00 jälkeen." in text
    proposed = re.findall(r"\[ ✓ \w+ (\d+\.\d+\.) klo (\d+)\.(\d+)–", text)
    assert len(proposed) == 5, proposed
    assert all(int(hour) >= 12 for _, hour, _ in proposed), proposed
    assert len({day for day, _, _ in proposed}) == 5
    assert len({(hour, minute) for _, hour, minute in proposed}) >= 4, proposed

    # The folder it names holds every email and calendar file it listed.
    assert f"{folder}:" in text
    emails, files = sorted(folder.glob("*.eml")), sorted(folder.glob("*.ics"))
    assert len(emails) == 6 and len(files) == 7  # six professionals; everyone in the chat
    for path in emails + files:
        assert f"  {path.name}\n" in text
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"].endswith("@kuusilahti.example")
        invitations = calendars(message)  # inline and attached
        assert invitations and all(str(c["METHOD"]) == "REQUEST" for c in invitations)
        assert {str(c.walk("VEVENT")[0]["SUMMARY"]) for c in invitations} == {"Tapaaminen"}
    for path in files:
        event = icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")[0]
        assert "SIS-24" not in path.read_text() and event["DTSTART"].dt.tzinfo is not None

    # In Swedish: the same people, the bot answering in Swedish.
    for line in [
        "[Stina, socialarbetare] → /ny",
        "[Kerralla → Olli, klasslärare] Stina Strand bjuder in dig till ett möte: Sisukas – SIS-24",
        "[Kerralla → Maija, vårdnadshavare] Tiden är bestämd: Möte",
        "[Kerralla → Maija, vårdnadshavare] Tack för din respons.",
        "   Kuusilahti skola vill helst ha möten efter kl. 12.00.",
    ]:
        assert line in svenska, line
    assert "Aika on sovittu" not in svenska
