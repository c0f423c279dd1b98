"""Twilio webhook throughput beside Twilio's own sample app, on SQLite and PostgreSQL.

Serves minyi's Twilio webhook app (``web.webhook_app``, what ``minyi web`` serves ``/twilio/...``
with; signatures checked, every reply kept for replays, every step stored) and Twilio's
automated-survey Flask sample the same way — gunicorn's threaded workers, the same count — each over
a fresh database, and plays Twilio for many simultaneous calls against each in turn, alternating:
for minyi, signed posts following the TwiML's action URLs through the bundled questionnaire (15
keys) plus the call's status callbacks; for the sample, ``/voice`` and a survey of 15 DTMF questions
(its redirect, then its answer). Prints requests/s, p50/p99 latency, the app server's CPU a request,
calls stored complete, and minyi's ratio to the sample. Before the clock starts, each server answers
one warm-up call per thread (its caches and connections filled), and minyi's requests are
signed (Twilio signs them on its own machines, not on the one the servers share with this client).

    .venv/bin/python bench/bench_twilio.py                       # SQLite and PostgreSQL, 32 callers
    .venv/bin/python bench/bench_twilio.py --pause 200 --calls 32  # callers pausing as prompts play
    .venv/bin/python bench/bench_twilio.py --sqlite-only --rounds 3
    .venv/bin/python bench/bench_twilio.py --old /work/old-tree   # also minyi as an older checkout serves

The sample is never fetched here: give its directory with ``--sample`` or
``MINYI_BENCH_TWILIO_SAMPLE`` (without it only minyi is measured). The directory is a checkout of
github.com/TwilioDevEd/automated-survey-flask with a ``venv/`` holding Flask 3, Flask-SQLAlchemy 3,
SQLAlchemy 2, twilio, gunicorn and psycopg; the one change it needs on SQLAlchemy 2 is
``Question.query.get(id)`` → ``db.session.get(Question, id)`` in ``question_view.py`` and
``answer_view.py`` (``question_view.py`` then imports ``db`` beside ``app``). It runs as it
ships: no signature check, no idempotency.
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

from sqlalchemy import Engine, column, event, func, select, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from ivr.channels.twilio.urls import WebhookUrls  # noqa: E402
from survey.clock import Clock, SystemClock  # noqa: E402
from survey.config import Settings  # noqa: E402
from survey.db import make_engine, session_factory, session_scope, upgrade  # noqa: E402
from survey.models import CallAttempt, Case, Contact, Interview  # noqa: E402
from survey.phones import PhoneVault, mask  # noqa: E402
from survey.questionnaire import load_bundled  # noqa: E402
from survey.surveys import StratumSpec, create_survey  # noqa: E402
from survey.vocabulary import AttemptStatus  # noqa: E402
from web.blueprints.twilio import EXTENSION, build_webhooks  # noqa: E402
from web.webhook_app import create_webhook_app  # noqa: E402

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "0123456789abcdef" * 2
# language, consent, two screeners, then one key per question; "15" years; 2 = no suggestion
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SAMPLE_ENV = "MINYI_BENCH_TWILIO_SAMPLE"
KEYS = ["1", "1", "1", "1", "2", "1", "1", "1", "1", "1", "1", "2", "2", "1", "15"]


# -- the server side --------------------------------------------------------------------------


def _settings(public_url: str, database_url: str) -> Settings:
    return Settings(database_url=database_url, public_url=public_url, secret_key="bench", twilio_auth_token=TOKEN,
                    twilio_account_sid=ACCOUNT, twilio_from="+15005550006")


class _NoRest:
    """The benchmark never hangs up on a machine; any REST call would be a bug."""

    logger = None
    timeout = None

    def request(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("the benchmark makes no REST requests")


def wsgi_app() -> Flask:
    """The app gunicorn serves (``bench_twilio:wsgi_app()``), configured by the environment."""
    settings = _settings(os.environ["BENCH_PUBLIC_URL"], os.environ["BENCH_DATABASE_URL"])
    engine = make_engine(settings.database_url)
    services = _Services(settings, session_factory(engine), SystemClock())
    app = create_webhook_app(services)  # what ``create_app`` serves /twilio/... with
    _count_statements(app, engine)
    app.extensions[EXTENSION] = build_webhooks(services, http_client=_NoRest())
    return app


def _count_statements(app: Flask, engine: Engine) -> None:
    """Each reply says in ``X-Statements`` how many SQL statements its request sent (counted around
    the whole WSGI app: the call's webhooks are answered before Flask's request hooks)."""
    sent = threading.local()
    served = app.wsgi_app

    def count(*_args: object) -> None:
        sent.n = getattr(sent, "n", 0) + 1

    def counted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        sent.n = 0

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Statements", str(sent.n))], exc_info)

        return served(environ, start)

    event.listen(engine, "before_cursor_execute", count)
    app.wsgi_app = counted  # type: ignore[method-assign]


@dataclass
class _Services:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock


def _prepare_database(url: str, calls: int) -> list[int]:
    """A migrated database with one survey, ``calls`` cases and an attempt on each."""
    engine = make_engine(url)
    upgrade(engine)
    clock, vault = SystemClock(), PhoneVault("bench")
    attempts = []
    with session_scope(session_factory(engine)) as s:
        survey = create_survey(s, f"BENCH{time.time_ns()}", load_bundled(), clock, period="2026-11", quota=calls,
                               strata=[StratumSpec("T01", "城关镇")])
        for i in range(calls):
            number = f"+86138{time.time_ns() % 10**5:05d}{i:03d}"[:14]
            contact = Contact(number_enc=vault.encrypt(number), number_hash=vault.hash(f"{number}-{i}-{time.time_ns()}"),
                              number_masked=mask(number))
            s.add(contact)
            s.flush()
            case = Case(survey_id=survey.id, stratum_id=survey.strata[0].id, contact_id=contact.id,
                        created_at=clock.now(), updated_at=clock.now())
            s.add(case)
            s.flush()
            attempt = CallAttempt(case_id=case.id, survey_id=survey.id, channel="twilio",
                                  status=AttemptStatus.QUEUED, started_at=clock.now())
            s.add(attempt)
            s.flush()
            attempts.append(attempt.id)
    engine.dispose()
    return attempts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- Twilio's side ----------------------------------------------------------------------------


class Caller:
    """Plays Twilio: HTTP requests on one keep-alive connection per thread (``http.client``, which
    costs the client far less than ``requests``, so the server's cost dominates), timed."""

    def __init__(self, port: int, pause: float) -> None:
        self.port = port
        self.pause = pause  # seconds between a reply and the caller's next request (the prompt playing)
        self._rng = random.Random(port)  # the pauses' spread, the same in every run on a port
        self.validator = RequestValidator(TOKEN)
        self.latencies: list[float] = []
        self.statements: list[int] = []  # per request, when the server says (X-Statements)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._signatures: dict[tuple[str, str | None], str] = {}  # (url, body) → signature, made beforehand

    def presign(self, url: str, form: dict[str, str]) -> None:
        """Sign a request the caller will send, before the clock starts: Twilio signs on its own
        machines, so the signing is no part of what is measured here. A request not signed
        beforehand (a URL the server chose otherwise) is signed as it is sent."""
        self._signatures[(url, urlencode(form))] = self._sign(url, form)

    def _sign(self, url: str, form: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, form))

    def warmed(self, pause: float) -> None:
        """Forget the timings of the warm-up calls (not their errors); pause from now on."""
        self.latencies.clear()
        self.statements.clear()
        self.pause = pause

    def close(self) -> None:
        """Hang up every keep-alive connection (gunicorn waits for them when it stops)."""
        for conn in self._connections:
            conn.close()

    def request(self, method: str, url: str, form: dict[str, str] | None = None, signed: bool = False) -> str:
        path = urlsplit(url)._replace(scheme="", netloc="").geturl()
        body = urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        if signed:
            headers["X-Twilio-Signature"] = self._signatures.get((url, body)) or self._sign(url, form or {})
        if self.pause:  # between half and 1.5 times --pause: prompts and residents differ, so callers
            with self._lock:  # do not move in step (32 requests arriving together would queue)
                pause = self.pause * self._rng.uniform(0.5, 1.5)
            time.sleep(pause)
        began = time.perf_counter()
        status, text, statements = self._send(method, path, body, headers)
        elapsed = time.perf_counter() - began
        with self._lock:
            self.latencies.append(elapsed)
            if statements is not None:
                self.statements.append(int(statements))
            if status >= 300:
                self.errors.append(f"{status} {method} {url}: {text[:200]}")
        return text

    def _send(self, method: str, path: str, body: str | None,
              headers: dict[str, str]) -> tuple[int, str, str | None]:
        for fresh in (False, True):  # a keep-alive connection the server closed is opened again once
            conn = getattr(self._local, "conn", None)
            if conn is None or fresh:
                conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                with self._lock:
                    self._connections.append(conn)
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                return response.status, response.read().decode(), response.getheader("X-Statements")
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                conn.close()
                if fresh:
                    raise
        raise AssertionError("unreachable")


def _sid(call_id: int) -> str:
    return f"CA{call_id:032x}"


_GATHER_ACTION = re.compile(r'<Gather\b[^>]*?\saction="([^"]*)"')
_REDIRECT = re.compile(r"<Redirect\b[^>]*>([^<]+)</Redirect>")


def _action(twiml: str) -> str | None:
    """The ``<Gather>``'s action URL (a regular expression, not an XML parser: the client's CPU is
    shared with the servers it measures; the TwiML itself is checked by tests/twilio)."""
    found = _GATHER_ACTION.search(twiml)
    return None if found is None else html.unescape(found.group(1))


def _redirect(twiml: str) -> str | None:
    found = _REDIRECT.search(twiml)
    return None if found is None else html.unescape(found.group(1))


# -- the two apps -----------------------------------------------------------------------------


class Target(Protocol):
    name: str

    def prepare(self, url: str, calls: int) -> list[int]: ...

    def command(self, port: int, workers: int, threads: int, url: str) -> tuple[list[str], dict[str, str], Path]: ...

    def call(self, caller: Caller, public: str, call_id: int) -> None: ...

    def presign(self, caller: Caller, public: str, call_id: int) -> None: ...

    def completed(self, url: str, call_ids: list[int]) -> int: ...


def _gunicorn(python: str, port: int, workers: int, threads: int, app: str) -> list[str]:
    """The one way both apps are served: gunicorn's threaded workers (gthread), preloaded."""
    return [python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads",
            str(threads), "--worker-class", "gthread", "--log-level", "warning", "--preload", app]


class Minyi:
    """Minyi's Twilio blueprint with signatures checked, replies stored for replays, every step
    stored: the bundled questionnaire, 15 keys, and the call's status callbacks. ``root`` is the
    checkout whose ``bench/bench_twilio.py`` serves it (another one: an older minyi, ``--old``)."""

    def __init__(self, root: Path = ROOT, name: str = "minyi") -> None:
        self.root = root
        self.name = name

    def prepare(self, url: str, calls: int) -> list[int]:
        return _prepare_database(url, calls)

    def command(self, port: int, workers: int, threads: int, url: str) -> tuple[list[str], dict[str, str], Path]:
        env = {"BENCH_PUBLIC_URL": f"http://127.0.0.1:{port}", "BENCH_DATABASE_URL": url}
        return _gunicorn(sys.executable, port, workers, threads, "bench_twilio:wsgi_app()"), env, self.root / "bench"

    def call(self, caller: Caller, public: str, call_id: int) -> None:
        urls, sid = WebhookUrls(public), _sid(call_id)
        for form in _ringing(sid):
            caller.request("POST", urls.status(call_id), form, signed=True)
        twiml = caller.request("POST", urls.start(call_id), _answered(sid), signed=True)
        for keys in KEYS:
            action = _action(twiml)
            if action is None:
                caller.errors.append(f"minyi call {call_id}: no <Gather> where keys {keys!r} were due")
                return
            twiml = caller.request("POST", action, _pressed(sid, keys), signed=True)
        caller.request("POST", urls.status(call_id), _ended(sid), signed=True)

    def presign(self, caller: Caller, public: str, call_id: int) -> None:
        """Sign the call's requests beforehand (:meth:`Caller.presign`), its keys' at the action
        URLs minyi gives (:meth:`WebhookUrls.gather`, step numbers from 1)."""
        urls, sid = WebhookUrls(public), _sid(call_id)
        signed = [*((urls.status(call_id), form) for form in _ringing(sid)), (urls.start(call_id), _answered(sid)),
                  *((urls.gather(call_id, seq), _pressed(sid, keys)) for seq, keys in enumerate(KEYS, 1)),
                  (urls.status(call_id), _ended(sid))]
        for url, form in signed:
            caller.presign(url, form)

    def completed(self, url: str, call_ids: list[int]) -> int:
        engine = make_engine(url)
        with session_factory(engine)() as s:
            done = s.scalar(select(func.count()).select_from(Interview).where(
                Interview.last_attempt_id.in_(call_ids), Interview.status == "complete"))
        engine.dispose()
        return int(done or 0)


def _ringing(sid: str) -> list[dict[str, str]]:
    return [{"CallSid": sid, "CallStatus": status} for status in ("initiated", "ringing", "in-progress")]


def _answered(sid: str) -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": "in-progress"}


def _pressed(sid: str, keys: str) -> dict[str, str]:
    return {"CallSid": sid, "Digits": keys, "CallStatus": "in-progress"}


def _ended(sid: str) -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": "completed", "CallDuration": "150"}


SAMPLE_QUESTIONS = len(KEYS)
_SAMPLE_SEED = f"""
from automated_survey_flask import db, prepare_app
from automated_survey_flask.models import Question, Survey
app = prepare_app()
with app.app_context():
    db.create_all()
    survey = Survey(title="Minyi benchmark")
    survey.questions = [Question(content="Are you more than 21 years old?", kind=Question.BOOLEAN)] + [
        Question(content=f"In a scale of 1-10, how would you rate item {{i}}?", kind=Question.NUMERIC)
        for i in range(1, {SAMPLE_QUESTIONS})]
    db.session.add(survey)
    db.session.commit()
"""


class TwilioSample:
    """Twilio's automated-survey Flask sample as it ships (no signature check, no idempotency),
    with a survey of as many DTMF questions as minyi's call has keys: ``GET /voice``, then for
    each question the ``<Redirect>`` to it and the ``<Gather>``'s answer."""

    name = "sample"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.python = str(directory / "venv" / "bin" / "python")

    def _env(self, url: str) -> dict[str, str]:
        return {"DATABASE_URI": url, "SECRET_KEY": "bench"}

    def prepare(self, url: str, calls: int) -> list[int]:
        subprocess.run([self.python, "-c", _SAMPLE_SEED], cwd=self.directory, env={**os.environ, **self._env(url)},
                       check=True)
        return list(range(1, calls + 1))

    def command(self, port: int, workers: int, threads: int, url: str) -> tuple[list[str], dict[str, str], Path]:
        return (_gunicorn(self.python, port, workers, threads, "automated_survey_flask:prepare_app()"),
                self._env(url), self.directory)

    def presign(self, caller: Caller, public: str, call_id: int) -> None:
        """Nothing to sign: the sample checks no signature."""

    def call(self, caller: Caller, public: str, call_id: int) -> None:
        sid = _sid(call_id)
        twiml = caller.request("GET", public + "/voice")
        for _ in range(2 * SAMPLE_QUESTIONS + 1):
            redirect, action = _redirect(twiml), _action(twiml)
            if redirect is not None:
                twiml = caller.request("GET", public + redirect + "?" + urlencode({"CallSid": sid}))
            elif action is not None:
                twiml = caller.request("POST", public + action, _pressed(sid, "1"))
            else:
                return
        caller.errors.append(f"sample call {call_id}: no goodbye after {SAMPLE_QUESTIONS} questions")

    def completed(self, url: str, call_ids: list[int]) -> int:
        engine = make_engine(url)
        answers = table("answers", column("session_id"))
        whole = (select(answers.c.session_id).where(answers.c.session_id.in_([_sid(i) for i in call_ids]))
                 .group_by(answers.c.session_id).having(func.count() == SAMPLE_QUESTIONS).subquery())
        with engine.connect() as conn:
            done = conn.scalar(select(func.count()).select_from(whole))
        engine.dispose()
        return int(done or 0)


def sample_from(option: str | None) -> TwilioSample | None:
    """The sample app's checkout, from ``--sample`` or ``$MINYI_BENCH_TWILIO_SAMPLE`` (never fetched)."""
    location = option or os.environ.get(SAMPLE_ENV)
    if not location:
        print(f"Twilio's sample app: absent (set {SAMPLE_ENV} or --sample to its directory to compare); "
              "measuring minyi alone")
        return None
    directory = Path(location)
    sample = TwilioSample(directory)
    if not (directory / "automated_survey_flask").is_dir() or not Path(sample.python).exists():
        raise SystemExit(f"error: {SAMPLE_ENV}={location}: not a checkout of automated-survey-flask with its "
                         "venv/ (see bench/bench_twilio.py)")
    return sample


# -- one measurement --------------------------------------------------------------------------


@dataclass
class Measurement:
    target: str
    backend: str
    requests: int
    wall: float
    latencies: list[float]
    complete: int
    calls: int
    statements: list[int]
    errors: list[str]
    server_cpu: float | None  # seconds of the app server's processes during the run

    @property
    def rate(self) -> float:
        return self.requests / self.wall

    @property
    def cpu_per_request(self) -> float | None:
        """Milliseconds of the app server's CPU a request: steadier than the rate on a loaded machine."""
        return None if self.server_cpu is None else 1000 * self.server_cpu / self.requests


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@contextmanager
def _database(database_url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a throw-away schema in the given PostgreSQL database. The SQLite file
    is kept in memory (``/dev/shm``) where there is one, so that the disk's sync policy (the
    sample's default journal syncs every commit, minyi's WAL does not) does not decide the race."""
    if database_url is None:
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.TemporaryDirectory(dir=shm) as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(target: Target, database_url: str | None, calls: int, concurrency: int, workers: int, threads: int,
            pause: float = 0.0) -> Measurement:
    """``calls`` whole calls, ``concurrency`` at once, against ``target`` on a fresh database."""
    warm = workers * threads  # calls before the clock starts: every thread's caches and connections
    with _database(database_url) as url:
        call_ids = target.prepare(url, warm + calls)
        port = _free_port()
        command, env, cwd = target.command(port, workers, threads, url)
        server = _start_server(command, cwd, env, port)
        try:
            caller, public = Caller(port, 0.0), f"http://127.0.0.1:{port}"
            with ThreadPoolExecutor(warm) as pool:
                list(pool.map(lambda call_id: target.call(caller, public, call_id), call_ids[:warm]))
            caller.warmed(pause)
            call_ids = call_ids[warm:]
            for call_id in call_ids:
                target.presign(caller, public, call_id)
            began, cpu_before = time.perf_counter(), _cpu_seconds(server.pid)
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda call_id: target.call(caller, public, call_id), call_ids))
            wall, cpu_after = time.perf_counter() - began, _cpu_seconds(server.pid)
            caller.close()
        finally:
            _stop(server)
        complete = target.completed(url, call_ids)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Measurement(target.name, re.sub(r"\+.*|://.*", "", url), len(caller.latencies), wall,
                       sorted(caller.latencies), complete, calls, caller.statements, caller.errors, server_cpu)


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) spent so far by process ``pid`` and its descendants (gunicorn's
    master and workers), from ``/proc``; None where there is no ``/proc``. The database server's
    own CPU (PostgreSQL's backends) is not in it."""
    tick, total, todo = os.sysconf("SC_CLK_TCK"), 0.0, [pid]
    try:
        while todo:
            proc = Path(f"/proc/{todo.pop()}")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in (proc / "task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        return None
    return total


def _start_server(command: list[str], cwd: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the server ({' '.join(command[:3])} ...) exited with {server.returncode}") from None
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"the server did not start listening on port {port}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# -- the report -------------------------------------------------------------------------------


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _line(m: Measurement) -> str:
    lat = m.latencies
    said = f"{m.rate:7.1f} req/s  p50 {1000 * _percentile(lat, 50):6.1f} ms  p99 {1000 * _percentile(lat, 99):7.1f} ms"
    sql = f"  {statistics.fmean(m.statements):.2f} SQL statements/request" if m.statements else ""
    cpu = f"  server CPU {m.cpu_per_request:.2f} ms/request" if m.cpu_per_request is not None else ""
    return f"  {m.target:<6} {m.backend:<10} {said}  ({m.requests} requests, {m.complete}/{m.calls} calls " \
           f"stored complete){cpu}{sql}  [{_load()}]"


def _summary(backend: str, runs: list[Measurement], paced: bool) -> str:
    by = {name: [m for m in runs if m.target == name] for name in ("sample", "old", "minyi")}
    parts = []
    for name, mine in by.items():
        if mine:
            lat = sorted(x for m in mine for x in m.latencies)
            cpu = [m.cpu_per_request for m in mine if m.cpu_per_request is not None]
            parts.append(f"{name} {statistics.median(m.rate for m in mine):.1f} req/s (p50 "
                         f"{1000 * _percentile(lat, 50):.1f} ms, p99 {1000 * _percentile(lat, 99):.1f} ms"
                         + (f", server CPU {statistics.median(cpu):.2f} ms/request)" if cpu else ")"))
    line = f"{backend}: " + ", ".join(parts)
    if paced:
        line += "; paced callers: the rates are the load offered, so no ratio"
    else:
        for base in ("sample", "old"):
            if by[base] and by["minyi"]:
                ratio = statistics.median(m.rate for m in by["minyi"]) / statistics.median(m.rate for m in by[base])
                line += f"; minyi/{base} = {ratio:.2f}x"
    return line


def run(calls: int, concurrency: int, workers: int, threads: int, backends: list[str | None],
        sample: TwilioSample | None, rounds: int = 1, pause: float = 0.0, old: Path | None = None) -> int:
    older = Minyi(old, "old") if old is not None else None
    targets: list[Target] = [t for t in (sample, older, Minyi()) if t is not None]
    paced = f", each caller pausing {500 * pause:.0f}-{1500 * pause:.0f} ms before each request" if pause else ""
    print(f"gunicorn gthread, {workers} workers x {threads} threads for both apps; {calls} calls per run, "
          f"{concurrency} at once{paced}; minyi with signatures checked, replies kept for replays, every step "
          f"stored; {_load()}", flush=True)
    failed = False
    for database_url in backends:
        runs: list[Measurement] = []
        for round_no in range(rounds):
            order = targets if round_no % 2 == 0 else targets[::-1]  # alternate: load drifts, both see it
            for target in order:
                m = measure(target, database_url, calls, concurrency, workers, threads, pause)
                runs.append(m)
                print(_line(m), flush=True)
                for error in m.errors[:5]:
                    print("    error:", error)
                failed |= bool(m.errors) or m.complete != m.calls
        print(_summary(runs[0].backend, runs, paced=pause > 0), flush=True)
    return 1 if failed else 0


def _postgres(url: str) -> str | None:
    """``url`` when PostgreSQL answers there, else None (said)."""
    try:
        engine = make_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return url
    except OperationalError as error:
        print(f"PostgreSQL at {mask_password(url)}: unreachable ({str(error.orig).splitlines()[0]}); SQLite only")
        return None


def mask_password(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=64, help="calls per run (default 64)")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in progress at once (default 32)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn worker processes for each app (default: one per CPU)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each app per database, alternating (default 2)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="milliseconds each caller waits before each request, on average, as a prompt plays "
                             "(each pause drawn between half and 1.5 times this; default 0: as fast as the servers answer)")
    parser.add_argument("--sample", help=f"the sample app's directory (default ${SAMPLE_ENV})")
    parser.add_argument("--database-url", default=os.environ.get("MINYI_TEST_PG", DEFAULT_PG),
                        help="PostgreSQL URL (a throw-away schema is used); default %(default)s")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--old", type=Path, help="another minyi checkout (e.g. a git worktree of an older commit) "
                        "to measure in the same run, as 'old'")
    args = parser.parse_args()
    if min(args.calls, args.concurrency, args.workers, args.threads, args.rounds) < 1 or args.pause < 0:
        parser.error("--calls, --concurrency, --workers, --threads and --rounds must be at least 1, --pause >= 0")
    sample = sample_from(args.sample)
    backends: list[str | None] = [None]
    if not args.sqlite_only and (pg := _postgres(args.database_url)) is not None:
        backends.append(pg)
    raise SystemExit(run(args.calls, args.concurrency, args.workers, args.threads, backends, sample, args.rounds,
                         args.pause / 1000, args.old))


if __name__ == "__main__":
    main()
