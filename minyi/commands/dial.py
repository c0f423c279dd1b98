"""``minyi sample import`` and ``minyi dial``. Bad input exits with status 2 and says why; the
other exit statuses of ``minyi dial`` are in :data:`NO_WINDOW` and :data:`CHANNEL_FAILED`."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dialer import workers
from dialer.close import close_survey
from dialer.frames import FrameError, read_with_rejects, write_rejects
from dialer.policy import DialPolicy, PolicyError
from dialer.protocol import Channel, ChannelNotReady, Draining
from dialer.sample import ImportReport, NumberRules, import_sample
from dialer.stats import final_dispositions
from dialer.windows import CallingCalendar
from dialer.worker import Stop, WorkerOptions, WorkerReport, default_owner, run_worker
from ivr.channels.simulated.rehearsal import load_rehearsal
from minyi.channels import ChannelUnavailable, open_channel
from minyi.dial_display import LiveProgress
from survey.clock import Clock, SystemClock, VirtualClock
from survey.config import load_settings
from survey.db import open_sessions, session_scope
from survey.models import CallAttempt, Survey
from survey.phones import PhoneProblem, configured_vault
from survey.surveys import survey_questionnaire
from survey.vocabulary import ATTEMPT_ENDED, AttemptStatus, SurveyStatus

console = Console()
MAX_ERRORS_SHOWN = 50
NO_WINDOW = 3  # exit status: no calling window open and --no-wait, or none ahead
CHANNEL_FAILED = 4  # exit status: the channel failed --max-channel-failures calls in a row
MIN_LOST_AFTER_S = 10.0  # two heartbeats: less takes a busy worker for dead
FINISH_CALLS_S = 900.0  # a worker that stopped by itself lets its calls finish: up to 15 minutes


def _fail(message: str, status: int = 2) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(status)


ADMITTED_BY: dict[str, str] = {PhoneProblem.FOREIGN: "--allow-foreign", PhoneProblem.SERVICE: "--allow-service"}


def sample_import(
    file: Path = typer.Argument(..., help="Sample frame, CSV (UTF-8 or GB18030) or XLSX."),
    survey: str = typer.Option(..., "--survey", help="Survey code."),
    replicate_size: int | None = typer.Option(None, "--replicate-size", min=1,
                                              help="Cut each township's numbers into replicates of this size; "
                                                   "release one now and the rest as needed."),
    strict: bool = typer.Option(False, "--strict", help="Import nothing if any row is bad (default: import the "
                                                        "good rows and write the bad ones to the rejects file)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", hidden=True,
                                      help="Import the good rows: the default now, accepted for old scripts."),
    allow_foreign: bool = typer.Option(False, "--allow-foreign",
                                       help="Admit numbers of countries other than --region's (refused by default)."),
    allow_service: bool = typer.Option(False, "--allow-service",
                                       help="Admit special-service numbers: 400/800, 95xxx/96xxx and other short "
                                            "numbers (refused by default; emergency numbers always)."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Where to write the rejected rows "
                                                                "(default: FRAME.rejected.csv next to the frame)."),
    region: str = typer.Option("CN", "--region", help="Region for numbers written without +country code."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for shuffling numbers into replicates."),
    at: datetime | None = typer.Option(None, "--at", help="The moment of the import, UTC (default now): numbers "
                                                          "are released then (or at the field start, if later). "
                                                          "A rehearsal that `minyi dial --start`s in the past "
                                                          "imports at that moment."),
) -> None:
    """Import a sample frame's good rows: numbers to E.164, duplicates and do-not-call numbers
    removed. Bad rows (invalid, emergency, foreign or special-service numbers, unknown townships,
    ...) are counted by reason and written, with the frame's columns and a `reason` column, to the
    rejects file: fix them there and import that file. Exit status 2 when the frame cannot be read,
    when --strict finds a bad row, or when every row is bad; then nothing is imported
    (docs/command-line.md)."""
    if strict and skip_invalid:
        raise _fail("--strict and --skip-invalid contradict each other")
    try:
        frame, rejects = read_with_rejects(file, rejects, "frame")
    except FrameError as exc:
        raise _fail(str(exc)) from None
    settings = load_settings()
    rules = NumberRules(region, allow_foreign=allow_foreign, allow_service=allow_service)
    with session_scope(open_sessions(settings.database_url)) as session:
        row = session.scalars(select(Survey).where(Survey.code == survey)).first()
        if row is None:
            raise _fail(f"no survey {survey!r}")
        try:
            report = import_sample(session, row, frame, configured_vault(settings), at or SystemClock().now(),
                                   numbers=rules, replicate_size=replicate_size, skip_invalid=not strict, seed=seed)
            if report.rejected:
                write_rejects(rejects, frame, report.reasons())
        except FrameError as exc:
            raise _fail(str(exc)) from None
        except OSError as exc:
            raise _fail(f"cannot write the rejected rows to {rejects}: {exc.strerror or exc}; nothing was "
                        "imported") from None
    _print_import(file, report, refused=strict and bool(report.rejected))
    _conclude(report, rejects, strict)


def _conclude(report: ImportReport, rejects: Path, strict: bool) -> None:
    """Where the rejected rows went, and exit 2 if the import did not happen."""
    if not report.rejected:
        return
    console.print(f"{report.rejected} rejected row(s) written to {rejects}: fix them there and import that file",
                  soft_wrap=True)
    if strict:
        raise _fail(f"{report.rejected} bad row(s): nothing was imported (--strict)")
    if report.rejected == report.rows:
        raise _fail("every row is bad: nothing was imported")


def _print_import(file: Path, r: ImportReport, *, refused: bool) -> None:
    console.print(f"{file}: read as {r.encoding}, {r.rows} data row(s)", soft_wrap=True)
    if r.errors:
        _print_rejections(r)
    if refused:
        return
    counts = Table(title="Import")
    counts.add_column("")
    counts.add_column("rows", justify="right")
    for label, n in (("imported", r.imported), ("rejected", r.rejected),
                     ("duplicate in file", r.duplicates_in_file), ("already in survey", r.already_in_survey),
                     ("on do-not-call list", r.do_not_call)):
        counts.add_row(label, str(n))
    console.print(counts)
    towns = Table(title="By township")
    for col in ("township", "imported", "released now", "replicates"):
        towns.add_column(col, justify="left" if col == "township" else "right")
    for code in sorted(r.by_township):
        towns.add_row(code, str(r.by_township[code]), str(r.released[code]), str(r.replicates[code]))
    console.print(towns)


def _print_rejections(r: ImportReport) -> None:
    errors = Table(title="Rejected rows")
    for col in ("line", "column", "value", "reason"):
        errors.add_column(col)
    for e in r.errors[:MAX_ERRORS_SHOWN]:
        errors.add_row(str(e.line), e.column, e.value, e.reason)
    console.print(errors)
    if len(r.errors) > MAX_ERRORS_SHOWN:
        console.print(f"... and {len(r.errors) - MAX_ERRORS_SHOWN} more", soft_wrap=True)
    reasons = Table(title="Rejected rows by reason")
    for col in ("reason", "rows", "to admit them"):
        reasons.add_column(col, justify="right" if col == "rows" else "left")
    for problem, n in sorted(r.rejected_by_problem().items(), key=lambda item: -item[1]):
        reasons.add_row(problem, str(n), ADMITTED_BY.get(problem, ""))
    console.print(reasons)


def dial(
    survey: str = typer.Option(..., "--survey", help="Survey code."),
    channel: str = typer.Option("simulated", "--channel", help="simulated, twilio or asterisk."),
    until_done: bool = typer.Option(False, "--until-done", help="Keep going, waiting for calling windows and due "
                                                                  "cases, until the round is over: every case final "
                                                                  "or every quota met (noticed within seconds), or "
                                                                  "the field period ended. Without it: dial what is "
                                                                  "due now, then stop."),
    no_wait: bool = typer.Option(False, "--no-wait", help="When no calling window is open, exit with status 3 and "
                                                          "the next opening time instead of waiting for it."),
    max_channel_failures: int = typer.Option(5, "--max-channel-failures", min=1,
                                             help="Stop (exit status 4) when the channel fails this many calls in "
                                                  "a row; their cases go back to the queue uncounted."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", min=0, help="Stop after this many seconds."),
    worker_id: str | None = typer.Option(None, "--worker-id", help="Name of this worker (default host-pid). "
                                                                     "Restarted under the same name, a worker takes "
                                                                     "back its dead predecessor's leases at once; a "
                                                                     "name whose worker still runs is refused."),
    lost_after: float = typer.Option(workers.STALE_AFTER.total_seconds(), "--lost-after", min=MIN_LOST_AFTER_S,
                                     help="Seconds without a heartbeat (workers beat every "
                                          f"{workers.HEARTBEAT_EVERY_S:g} s) after which another worker takes a "
                                          "worker for dead and its leases back; give every worker the same."),
    clock: str = typer.Option("auto", "--clock", help="auto (virtual for simulated), system or virtual."),
    start: datetime | None = typer.Option(None, "--start", help="Virtual clock start, UTC (default: field start "
                                                                 "or now)."),
    lines: int | None = typer.Option(None, "--lines", min=1, help="This worker's lines (its share of the trunks)."),
    cps: float | None = typer.Option(None, "--cps", min=0.01, help="This worker's calls per second."),
    close: bool = typer.Option(False, "--close", help="Close the survey (final codes for every case) when the "
                                                      "campaign is done."),
    quiet: bool = typer.Option(False, "--quiet", help="No live display."),
    rehearsal: Path | None = typer.Option(None, "--rehearsal", help="With --channel simulated: how the survey's "
                                                                     "simulated residents answer (docs/rehearsal.md)."),
    serve: bool | None = typer.Option(None, "--serve/--no-serve",
                                      help="With --channel asterisk: run the Stasis app in this process (the "
                                           "default), or only place calls into the app a running `minyi ari` "
                                           "serves (docs/asterisk.md)."),
    drain_seconds: float = typer.Option(60.0, "--drain-seconds", min=0,
                                        help="On SIGTERM or Ctrl-C: place no more calls, wait this long for those in "
                                             "progress, then hang up and code those still up; exit 0."),
) -> None:
    """Run one dialler worker. Start several (on several machines) against PostgreSQL to share the
    work. The channel is checked before the first call (credentials, caller ID, server, townships).
    Exit status: 0 the worker stopped (see its reason), 2 refused to start (bad input, the channel
    not ready), 3 no calling window open with --no-wait (or none ahead), 4 the channel failed
    --max-channel-failures calls in a row (docs/command-line.md)."""
    if clock not in ("auto", "system", "virtual"):
        raise _fail(f"--clock must be auto, system or virtual, not {clock!r}")
    if rehearsal is not None and channel != "simulated":
        raise _fail("--rehearsal is for --channel simulated")
    if serve is not None and channel != "asterisk":
        raise _fail("--serve/--no-serve is for --channel asterisk")
    settings = load_settings()
    if rehearsal is not None:
        settings = replace(settings, simulated_rehearsal=str(rehearsal))
    sessions = open_sessions(settings.database_url)
    survey_id, calendar, field_start = _survey_to_dial(sessions, survey, settings.simulated_rehearsal
                                                       if channel == "simulated" else None)
    the_clock = _clock(clock, channel, start or field_start)
    owner = worker_id or default_owner()
    _refuse_running(sessions, owner, timedelta(seconds=lost_after))
    try:
        chan = open_channel(channel, settings, sessions, the_clock, **({} if serve is None else {"serve": serve}))
    except ChannelUnavailable as exc:
        raise _fail(str(exc)) from None
    _check_channel(chan, channel, survey_id)
    _wait_for_window(calendar, the_clock, no_wait)
    options = WorkerOptions(survey=survey, owner=owner, until_done=until_done, max_seconds=max_seconds, lines=lines,
                            cps=cps, max_channel_failures=max_channel_failures, stale_after=timedelta(seconds=lost_after),
                            takeover_every_s=min(workers.TAKEOVER_EVERY_S, lost_after / 4))
    vault = configured_vault(settings)
    with _stop_on_signals() as stop:
        if quiet:
            report = run_worker(sessions, chan, the_clock, vault, options, stop=stop)
        else:
            with LiveProgress(calendar.policy.timezone, console) as show:
                report = run_worker(sessions, chan, the_clock, vault, options, show, stop)
        _drain(chan, drain_seconds if stop.is_set() else FINISH_CALLS_S)
    console.print(run_summary(sessions, report, options.owner), soft_wrap=True)
    _conclude_run(report, calendar, the_clock, max_channel_failures)
    if close and report.stop_reason in (Stop.QUOTAS_MET, Stop.NO_CASES, Stop.FIELD_ENDED):
        _close(sessions, survey, the_clock)


def _refuse_running(sessions: sessionmaker[Session], owner: str, lost_after: timedelta) -> None:
    """Exit 2 when a worker of this name still beats: two processes leasing under one name would
    each take the other's cases for its own (checked before the channel opens, which would take
    the Stasis app from the running one)."""
    age = workers.still_beating(sessions, owner, stale_after=lost_after)
    if age is not None:
        raise _fail(f"a worker named {owner!r} is running (its last heartbeat {age.total_seconds():.0f} s ago): "
                    "stop it, or give this one another --worker-id")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """While open, SIGTERM and SIGINT set the event: the worker places no more calls, and the
    calls in progress are drained (:func:`_drain`) before the summary and a normal exit."""
    stop = threading.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    before = [signal.signal(signum, lambda _signum, _frame: stop.set()) for signum in signals]
    try:
        yield stop
    finally:
        for signum, handler in zip(signals, before, strict=True):
            signal.signal(signum, handler)


def _drain(channel: Channel, seconds: float) -> None:
    """Wait up to ``seconds`` for the calls in progress. A channel that can end its calls (Asterisk)
    then hangs up those still up and stores them with a hang-up cause; a provider's calls (Twilio)
    are reported by its webhooks when they end."""
    if isinstance(channel, Draining):
        channel.close(seconds)
        return
    end = time.monotonic() + seconds
    while channel.lines_in_use() and time.monotonic() < end:
        time.sleep(0.2)


def _survey_to_dial(sessions: sessionmaker[Session], code: str,
                    rehearsal: str | None) -> tuple[int, CallingCalendar, datetime | None]:
    """The survey's id, calling calendar and field start; refused when it cannot be dialled (or
    the rehearsal file does not fit it)."""
    with session_scope(sessions) as session:
        row = session.scalars(select(Survey).where(Survey.code == code)).first()
        if row is None:
            raise _fail(f"no survey {code!r}")
        if row.status == SurveyStatus.CLOSED:
            raise _fail(f"survey {code!r} is closed")
        try:
            calendar = DialPolicy.from_survey(row).calendar
        except PolicyError as exc:
            raise _fail(f"survey {code!r} has bad fieldwork settings: {exc}") from None
        if rehearsal:
            _check_rehearsal(Path(rehearsal), row)
        return row.id, calendar, row.field_start


def _check_channel(channel: Channel, name: str, survey_id: int) -> None:
    try:
        channel.preflight(survey_id)
    except ChannelNotReady as exc:
        raise _fail(f"channel {name!r} is not ready: {exc}; nothing was dialled") from None


def _wait_for_window(calendar: CallingCalendar, clock: Clock, no_wait: bool) -> None:
    """Say when the next calling window opens, and wait for it (``no_wait``: exit 3 instead)."""
    now = clock.now()
    opens = calendar.next_open(now)
    if opens == now:
        return
    if opens is None:
        raise _fail("no calling window ahead: check the survey's calling windows and holidays", NO_WINDOW)
    when = f"{calendar.local(opens):%Y-%m-%d %H:%M} ({calendar.policy.timezone})"
    if no_wait:
        raise _fail(f"no calling window is open now; the next opens {when}", NO_WINDOW)
    waits = "the simulated clock moves on to" if isinstance(clock, VirtualClock) else "waiting until"
    console.print(f"no calling window is open now; {waits} the next opening, {when}", soft_wrap=True)
    clock.sleep((opens - now).total_seconds())


def _conclude_run(report: WorkerReport, calendar: CallingCalendar, clock: Clock, failures: int) -> None:
    """Exit 4 with the channel's error when it stopped the worker; say when the window reopens
    when a closing window did."""
    if report.stop_reason == Stop.CHANNEL_FAILING:
        raise _fail(f"the channel failed {failures} calls in a row (last: {report.channel_error}); "
                    f"{report.withdrawn} case(s) it had taken are back in the queue, no attempt counted",
                    CHANNEL_FAILED)
    opens = calendar.next_open(clock.now()) if report.stop_reason == Stop.WINDOW_CLOSED else None
    if opens is not None:
        console.print(f"the next calling window opens {calendar.local(opens):%Y-%m-%d %H:%M} "
                      f"({calendar.policy.timezone})", soft_wrap=True)


def _close(sessions: sessionmaker[Session], survey: str, clock: Clock) -> None:
    with session_scope(sessions) as session:
        row = session.scalars(select(Survey).where(Survey.code == survey)).one()
        closed = close_survey(session, row, clock)
        codes = final_dispositions(session, row.id)
    console.print(f"survey closed: {sum(closed.finalised.values())} open case(s) coded now, "
                  f"{closed.unreleased} never released; final codes: "
                  + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())), soft_wrap=True)


def _check_rehearsal(path: Path, survey: Survey) -> None:
    """A rehearsal file that cannot be read or does not fit the survey stops the command before any call."""
    try:
        problems = load_rehearsal(path).problems(survey_questionnaire(survey), [s.code for s in survey.strata])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if problems:
        raise _fail(f"rehearsal file {path} does not fit survey {survey.code}: {'; '.join(problems)}")


def _clock(kind: str, channel: str, start: datetime | None) -> Clock:
    """A virtual clock (from ``start``, else now) for simulations, the system clock for real calls."""
    if kind == "system" or (kind == "auto" and channel != "simulated"):
        return SystemClock()
    return VirtualClock(start or SystemClock().now())


def run_summary(sessions: sessionmaker[Session], r: WorkerReport, owner: str) -> str:
    """What the worker did, its calls counted in the database: a channel whose results arrive
    through webhooks (Twilio) leaves the worker with calls still in flight, which its own count
    of results does not know about."""
    fieldwork = timedelta(seconds=round((r.ended - r.started).total_seconds()))
    finished, in_flight = _calls_of(sessions, owner, r.started)
    waiting = f", {in_flight} still in flight (their results arrive through the webhooks)" if in_flight else ""
    return (f"stopped: {r.stop_reason}; {r.placed} call(s) placed, {finished} finished{waiting}, "
            f"{fieldwork} of fieldwork in {r.elapsed_s:.1f} s")


def _calls_of(sessions: sessionmaker[Session], owner: str, since: datetime) -> tuple[int, int]:
    """The calls worker ``owner`` placed since ``since``: how many have ended, how many not yet
    (a reconciled ``unknown`` call may still be alive: it is not counted as ended)."""
    ended = CallAttempt.status.in_([s for s in ATTEMPT_ENDED if s != AttemptStatus.UNKNOWN])
    with session_scope(sessions) as session:
        rows = session.execute(select(ended, func.count()).where(CallAttempt.worker == owner,
                                                                 CallAttempt.started_at >= since).group_by(ended))
        counts = {bool(is_ended): int(n) for is_ended, n in rows}
    return counts.get(True, 0), counts.get(False, 0)
