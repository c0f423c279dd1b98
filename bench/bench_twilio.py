"""Webhook throughput and latency under concurrent calls, on a real WSGI server on loopback.

Starts gunicorn (or a threaded Werkzeug server) serving the Twilio blueprint over a fresh
database with signature checks and persistence on, then plays Twilio for many simultaneous
calls: each call is a whole interview of the bundled questionnaire driven by signed form posts
that follow the TwiML's action URLs, plus its status callbacks. Prints requests/s and latency
percentiles, and checks that every interview was stored complete.

    .venv/bin/python bench/bench_twilio.py --calls 200 --concurrency 32 --workers 4 --threads 8
    .venv/bin/python bench/bench_twilio.py --server werkzeug
    .venv/bin/python bench/bench_twilio.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import requests
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response  # noqa: E402

from ivr.channels.twilio.urls import WebhookUrls  # noqa: E402
from survey.clock import Clock, SystemClock  # noqa: E402
from survey.config import Settings  # noqa: E402
from survey.db import make_engine, session_factory, session_scope, upgrade  # noqa: E402
from survey.models import CallAttempt, Case, Contact, Interview  # noqa: E402
from survey.phones import PhoneVault, mask  # noqa: E402
from survey.questionnaire import load_bundled  # noqa: E402
from survey.surveys import StratumSpec, create_survey  # noqa: E402
from survey.vocabulary import AttemptStatus  # noqa: E402
from web.blueprints.twilio import EXTENSION, bp, build_webhooks  # noqa: E402

TOKEN = "bench-auth-token"
ACCOUNT = "AC" + "0123456789abcdef" * 2
# language, consent, two screeners, then one key per question; "15" years; 2 = no suggestion
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
    app = Flask("bench_twilio")
    engine = make_engine(settings.database_url)
    services = _Services(settings, session_factory(engine), SystemClock())
    _count_statements(app, engine)
    app.extensions["minyi"] = services
    app.extensions[EXTENSION] = build_webhooks(services, http_client=_NoRest())
    app.register_blueprint(bp, url_prefix="/twilio")
    return app


def _count_statements(app: Flask, engine: Engine) -> None:
    """Each reply says in ``X-Statements`` how many SQL statements its request sent."""
    sent = threading.local()

    def count(*_args: object) -> None:
        sent.n = getattr(sent, "n", 0) + 1

    def begin() -> None:
        sent.n = 0

    def tell(response: Response) -> Response:
        response.headers["X-Statements"] = str(getattr(sent, "n", 0))
        return response

    event.listen(engine, "before_cursor_execute", count)
    app.before_request(begin)
    app.after_request(tell)


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


def _start_server(kind: str, port: int, env: dict[str, str], workers: int, threads: int) -> subprocess.Popen[bytes]:
    if kind == "gunicorn":
        command = [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                   "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", "--preload",
                   "--chdir", str(ROOT / "bench"), "bench_twilio:wsgi_app()"]
    else:
        command = [sys.executable, "-c", "import logging, sys; sys.path.insert(0, 'bench');"
                   "logging.getLogger('werkzeug').setLevel(logging.WARNING); from bench_twilio import wsgi_app;"
                   f"wsgi_app().run('127.0.0.1', {port}, threaded=True)"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the {kind} server exited with {server.returncode}") from None
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"the {kind} server did not start listening on port {port}")


# -- Twilio's side ----------------------------------------------------------------------------


class Twilio:
    """Signed posts to the server, timed."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url
        self.validator = RequestValidator(TOKEN)
        self.latencies: list[float] = []
        self.statements: list[int] = []  # per request, when the server says (X-Statements)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def post(self, url: str, form: dict[str, str]) -> requests.Response:
        http = getattr(self._local, "http", None) or requests.Session()
        self._local.http = http
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, form)}
        began = time.perf_counter()
        response = http.post(url, data=form, headers=headers, timeout=60)
        elapsed = time.perf_counter() - began
        with self._lock:
            self.latencies.append(elapsed)
            if "X-Statements" in response.headers:
                self.statements.append(int(response.headers["X-Statements"]))
            if response.status_code >= 300:
                self.errors.append(f"{response.status_code} {url}: {response.text[:200]}")
        return response

    def call(self, urls: WebhookUrls, attempt_id: int) -> None:
        sid = f"CA{attempt_id:032x}"
        for status in ("initiated", "ringing", "in-progress"):
            self.post(urls.status(attempt_id), {"CallSid": sid, "CallStatus": status})
        twiml = self.post(urls.start(attempt_id), {"CallSid": sid, "CallStatus": "in-progress"}).text
        for keys in KEYS:
            action = _gather_action(twiml)
            if action is None:
                self.errors.append(f"attempt {attempt_id}: no <Gather> where keys {keys!r} were due")
                return
            twiml = self.post(action, {"CallSid": sid, "Digits": keys, "CallStatus": "in-progress"}).text
        self.post(urls.status(attempt_id), {"CallSid": sid, "CallStatus": "completed", "CallDuration": "150"})


def _gather_action(twiml: str) -> str | None:
    gather = ElementTree.fromstring(twiml).find("Gather")
    return None if gather is None else gather.get("action")


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@contextmanager
def _database(database_url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a throw-away schema in the given PostgreSQL database."""
    if database_url is None:
        with tempfile.TemporaryDirectory() as tmp:
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


def run(calls: int, concurrency: int, server_kind: str, workers: int, threads: int, database_url: str | None) -> int:
    with _database(database_url) as url:
        attempts = _prepare_database(url, calls)
        port = _free_port()
        public = f"http://127.0.0.1:{port}"
        server = _start_server(server_kind, port, {"BENCH_PUBLIC_URL": public, "BENCH_DATABASE_URL": url},
                               workers, threads)
        try:
            twilio = Twilio(public)
            urls = WebhookUrls(public)
            began = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda attempt_id: twilio.call(urls, attempt_id), attempts))
            wall = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(10)
        complete = _completed(url, attempts)
    _report(twilio, wall, calls, concurrency, server_kind, workers, threads, url, complete)
    return 1 if twilio.errors or complete != calls else 0


def _completed(url: str, attempts: list[int]) -> int:
    engine = make_engine(url)
    with session_factory(engine)() as s:
        done = s.scalar(select(func.count()).select_from(Interview).where(
            Interview.last_attempt_id.in_(attempts), Interview.status == "complete"))
    engine.dispose()
    return int(done or 0)


def _report(twilio: Twilio, wall: float, calls: int, concurrency: int, kind: str, workers: int, threads: int,
            url: str, complete: int) -> None:
    lat = sorted(twilio.latencies)
    backend = re.sub(r"://.*", "", url)
    shape = f"{workers} workers x {threads} threads" if kind == "gunicorn" else "one process, a thread per request"
    print(f"server: {kind} ({shape}), database: {backend}, signatures checked, every step stored")
    print(f"calls: {calls} at {concurrency} at once; interviews stored complete: {complete}/{calls}")
    print(f"requests: {len(lat)} in {wall:.2f} s = {len(lat) / wall:.1f} requests/s")
    print(f"latency: p50 {1000 * _percentile(lat, 50):.1f} ms, p99 {1000 * _percentile(lat, 99):.1f} ms, "
          f"max {1000 * lat[-1]:.1f} ms")
    if twilio.statements:
        print(f"SQL statements per request: {statistics.fmean(twilio.statements):.2f} on average, "
              f"{max(twilio.statements)} at most")
    for error in twilio.errors[:10]:
        print("error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="interviews to run (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in progress at once (default 16)")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn worker processes (default: one per CPU)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--database-url", help="a PostgreSQL URL (a throw-away schema is used); default: SQLite")
    args = parser.parse_args()
    if args.calls < 1 or args.concurrency < 1:
        parser.error("--calls and --concurrency must be at least 1")
    raise SystemExit(run(args.calls, args.concurrency, args.server, args.workers, args.threads, args.database_url))


if __name__ == "__main__":
    main()
