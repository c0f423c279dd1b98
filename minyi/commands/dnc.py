"""``minyi dnc import``: an outside do-not-call list (numbers that asked the centre, or another
office, never to be called) put on the one list every survey honours. Bad input exits with
status 2 and says why."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from dialer.dnc import add_many
from dialer.frames import FrameError, FrameRow, read_with_rejects, write_rejects
from survey import audit
from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import open_sessions, session_scope
from survey.phones import PhoneError, PhoneVault, configured_vault, normalise

console = Console()


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def dnc_import(
    file: Path = typer.Argument(..., help="The list: CSV (UTF-8 or GB18030) or XLSX with a phone column "
                                          "(phone, number, 号码, 电话, 手机号 ...)."),
    region: str = typer.Option("CN", "--region", help="Region for numbers written without +country code."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Where to write the rows that are not phone numbers "
                                                                "(default: FILE.rejected.csv next to the list)."),
) -> None:
    """Put every number of an outside list on the do-not-call list: it is never called again in any
    survey, its dialable cases are closed as refusals (AAPOR 2.11) and frames imported later leave it
    out. Rows that are not phone numbers are written, with a `reason` column, to the rejects file;
    the others are added. Exit status 2 when the file cannot be read or no row is a number."""
    try:
        frame, rejects = read_with_rejects(file, rejects, "list")
    except FrameError as exc:
        raise _fail(str(exc)) from None
    settings = load_settings()
    hashes, bad = _hashes(frame.rows, configured_vault(settings), region)
    if bad:
        try:
            write_rejects(rejects, frame, bad)
        except OSError as exc:
            raise _fail(f"cannot write the rejected rows to {rejects}: {exc.strerror or exc}; nothing was added") from None
    if not hashes:
        raise _fail(f"{file}: no row holds a phone number ({len(bad)} rejected, see {rejects}); nothing was added")
    clock = SystemClock()
    with session_scope(open_sessions(settings.database_url)) as session:
        added, finalised = add_many(session, hashes.values(), "import", clock.now())
        audit.record(session, clock, user_id=None, action="dnc_import", entity="do_not_call", entity_id=file.name,
                     after={"rows": len(frame.rows), "numbers": len(hashes), "added": added,
                            "rejected": len(bad), "cases_closed": finalised})
    console.print(f"{file}: {len(frame.rows)} row(s), {len(hashes)} distinct number(s): {added} added to the "
                  f"do-not-call list, {len(hashes) - added} already on it; {finalised} dialable case(s) "
                  "closed as refusals (2.11)", soft_wrap=True)
    if bad:
        console.print(f"{len(bad)} row(s) are not phone numbers: written to {rejects}", soft_wrap=True)


def _hashes(rows: tuple[FrameRow, ...], vault: PhoneVault, region: str) -> tuple[dict[str, str], list[tuple[FrameRow, str]]]:
    """Each distinct number of ``rows`` (E.164) with its keyed hash, and the rows that hold none,
    with why. Any real number may be listed: foreign and special-service numbers too."""
    hashes: dict[str, str] = {}
    bad: list[tuple[FrameRow, str]] = []
    for row in rows:
        try:
            e164, _ = normalise(row.values.get("number", ""), region, allow_foreign=True, allow_service=True)
        except PhoneError as exc:
            bad.append((row, str(exc)))
            continue
        hashes.setdefault(e164, vault.hash(e164))
    return hashes, bad
