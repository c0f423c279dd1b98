"""How many simultaneous IVR interviews one ``minyi ari`` process carries over ARI, and how long a
resident waits between a key and the next prompt.

The fake Asterisk of tests/asterisk runs in a process of its own (as Asterisk would), with its
api-docs checks off; the Stasis app runs here on a SQLite file (or ``MINYI_DATABASE_URL``). Each
level places that many calls at once (after ten warm-up calls); the residents ring for 1-29 call
seconds and take 0.2-1.5 s to react, so the calls overlap without moving in step; every one
answers the bundled questionnaire, half of them pressing keys while the prompt plays. Measured in the fake: from each DTMF event it sends to
the next PlaybackStarted on that channel (the README's figure for a real Asterisk: p99 45-73 ms
at 600 calls on 2 cores).

    .venv/bin/python bench/bench_ari.py --levels 50,100,200

With ``ARI_URL`` (or the live tests' ``MINYI_TEST_ARI_URL``) set (and ``ARI_USERNAME``,
``ARI_PASSWORD``, or their ``MINYI_TEST_`` forms; ``ARI_APP``, default ``minyi-bench``;
``ASTERISK_ENDPOINT``, default ``Local/{digits}@minyi-bench-residents``), the calls go to that real
Asterisk instead, in real time: its residents are the dialplan's (docs/asterisk.md,
``[minyi-bench-residents]``: they ring 1-29 s, so the calls do not move in step, then press a key
every 3 s, each while a prompt plays, so every key is a barge-in), the prompts are the installed ones,
and the latency is Asterisk's own: from the timestamp of each ChannelDtmfReceived event to that of
the next PlaybackStarted event of that channel (milliseconds). No warm-up calls; "(ast)" is the
CPU Asterisk used per call, when its pid file (``ASTERISK_PID_FILE``, default
/var/run/asterisk/asterisk.pid) is readable.

    ARI_URL=http://127.0.0.1:8088 ARI_USERNAME=minyi ARI_PASSWORD=... .venv/bin/python bench/bench_ari.py --levels 20,50
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests" / "asterisk")]

from ari_fake import AriSpec, FakeAsterisk, Press, Resident, spec_dir  # noqa: E402
from asterisk_world import COMPLETE, World  # noqa: E402

from dialer.protocol import CallRequest, CallResult  # noqa: E402
from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing  # noqa: E402
from survey.clock import VirtualClock  # noqa: E402
from survey.config import Settings  # noqa: E402
from survey.db import make_engine, session_factory, upgrade  # noqa: E402
from survey.models import Interview  # noqa: E402
from survey.vocabulary import InterviewStatus  # noqa: E402


def serve_fake(conn: Connection, residents: dict[str, Resident], scale: float, prompt_s: float,
               originate_delay_s: float = 0.0) -> None:
    directory = spec_dir()
    assert directory is not None, "set MINYI_ARI_SPEC to the ARI 22.10.1 api-docs"
    fake = FakeAsterisk(AriSpec.load(directory), time_scale=scale, prompt_s=prompt_s, validate=False)
    fake.originate_delay_s = originate_delay_s
    fake.residents.update(residents)
    fake.start()
    conn.send((fake.url, fake.username, fake.password))
    conn.recv()  # the warm-up calls are over
    fake.run(fake.latencies.clear)
    fake.peak_calls = 0
    cpu0 = time.process_time()
    conn.recv()
    conn.send({"latencies": list(fake.latencies), "peak": fake.peak_calls, "events": fake.events_sent,
               "traps": list(fake.traps), "cpu_s": time.process_time() - cpu0})
    fake.stop()


def run_level(calls: int, scale: float, prompt_s: float, database_url: str | None, db_threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url, pool_size=40, max_overflow=20) if not url.startswith("sqlite") else make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        world = World(sessions, VirtualClock(datetime(2026, 11, 2, 10, 30)), code=f"B{calls}-{os.getpid()}")
        warm_up = min(10, calls)
        run = random.Random().randrange(10_000)  # fresh numbers: a PostgreSQL database outlives the run
        numbers = [f"+8615{run:04d}{i:05d}" for i in range(warm_up + calls)]
        residents = {n: _resident(i) for i, n in enumerate(numbers)}
        requests = [replace(world.dial(n), ring_timeout_s=60) for n in numbers]

        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe()
        fake = ctx.Process(target=serve_fake, args=(there, residents, scale, prompt_s), daemon=True)
        fake.start()
        ari_url, user, password = here.recv()
        settings = Settings(ari_url=ari_url, ari_username=user, ari_password=password)
        options = AsteriskOptions.from_settings(settings, timing=Timing(scale=scale), db_threads=db_threads)
        with AsteriskChannel(settings, sessions, world.clock, options=options, drain_s=600) as channel:
            _run_calls(channel, requests[:warm_up])  # pools, caches and imports warm
            here.send("reset")
            cpu0, wall0 = time.process_time(), time.monotonic()
            group = _group_counts(channel)
            _peak, rate = _run_calls(channel, requests[warm_up:])
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            group = tuple(b - a for a, b in zip(group, _group_counts(channel), strict=True))
        here.send("stop")
        stats = here.recv()
        fake.join(10)
        with sessions() as s:
            complete = s.query(Interview).filter(Interview.survey_id == world.survey_id,
                                                 Interview.status == InterviewStatus.COMPLETE).count() - warm_up
        engine.dispose()
    latencies = sorted(stats["latencies"])
    return {"calls": calls, "peak": stats["peak"], "placed_per_s": rate, "complete": complete, "wall_s": wall,
            "cpu_ms_per_call": 1000 * cpu / calls, "fake_cpu_ms_per_call": 1000 * stats["cpu_s"] / calls,
            "cpu_ms_per_key": 1000 * cpu / max(len(stats["latencies"]), 1),
            "keys": len(latencies), "keys_per_tx": group[1] / max(group[0], 1),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
            "traps": stats["traps"]}


def run_level_real(calls: int, database_url: str | None, db_threads: int) -> dict[str, Any]:
    """``calls`` interviews at once on the real Asterisk of ARI_URL (see the module's docstring)."""
    from ivr.channels.asterisk import ari

    marks: list[tuple[float, str, str]] = []  # (Asterisk's time of the event, its type, channel id)
    events = ari.AriSession.events

    async def timed(self: Any) -> Any:
        async for event in events(self):
            if event["type"] in ("ChannelDtmfReceived", "PlaybackStarted"):
                channel = event["channel"]["id"] if "channel" in event else event["playback"]["target_uri"][8:]
                marks.append((_stamp(event["timestamp"]), event["type"], channel))
            yield event

    ari.AriSession.events = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = database_url or f"sqlite:///{tmp}/bench.db"
            engine = make_engine(url, pool_size=40, max_overflow=20) if not url.startswith("sqlite") else make_engine(url)
            upgrade(engine)
            sessions = session_factory(engine)
            world = World(sessions, VirtualClock(datetime(2026, 11, 2, 10, 30)), code=f"R{calls}-{os.getpid()}")
            run = random.Random().randrange(10_000)
            requests = [replace(world.dial(f"+8615{run:04d}{i:05d}"), ring_timeout_s=60) for i in range(calls)]
            settings = _real_settings()
            options = AsteriskOptions.from_settings(settings, db_threads=db_threads)
            ast0 = _asterisk_cpu_s()
            with AsteriskChannel(settings, sessions, world.clock, options=options, drain_s=600) as channel:
                cpu0, wall0 = time.process_time(), time.monotonic()
                peak, rate = _run_calls(channel, requests)
                wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
                group = _group_counts(channel)
            ast1 = _asterisk_cpu_s()
            with sessions() as s:
                complete = s.query(Interview).filter(Interview.survey_id == world.survey_id,
                                                     Interview.status == InterviewStatus.COMPLETE).count()
            engine.dispose()
    finally:
        ari.AriSession.events = events  # type: ignore[method-assign]
    latencies, last_key, keys, overtaken = [], {}, 0, 0
    for at, kind, channel_id in marks:
        if kind == "ChannelDtmfReceived":
            keys += 1
            overtaken += channel_id in last_key  # the next key came before the prompt (or is a 2nd digit)
            last_key[channel_id] = at
        elif channel_id in last_key:
            latencies.append(at - last_key.pop(channel_id))
    latencies.sort()
    print(f"  {keys} keys received, {overtaken} followed by another key before any prompt started "
          "(one a call is the second digit of a two-digit answer); p50/p99 are of the others")
    return {"calls": calls, "peak": peak, "placed_per_s": rate, "complete": complete, "wall_s": wall, "cpu_ms_per_call": 1000 * cpu / calls,
            "cpu_ms_per_key": 1000 * cpu / max(keys, 1), "keys_per_tx": group[1] / max(group[0], 1),
            "fake_cpu_ms_per_call": float("nan") if ast0 is None or ast1 is None else 1000 * (ast1 - ast0) / calls,
            "keys": len(latencies),
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
            "traps": []}


def dial_rate(cps: float, seconds: float, database_url: str | None, originate_delay_s: float = 0.0) -> dict[str, float]:
    """``minyi dial``'s worker over the Asterisk channel on the fake, allowed ``cps`` calls a
    second on lines enough for all: how many it places a second (real clock). The residents
    ring for a minute, so no result comes back while it dials; each originate is answered
    ``originate_delay_s`` late (a loaded Asterisk's reply)."""
    from dialer.frames import Frame, FrameRow
    from dialer.sample import import_sample
    from dialer.worker import WorkerOptions, run_worker
    from survey.clock import SystemClock
    from survey.db import session_scope
    from survey.models import Survey

    calls = int(cps * seconds * 2)  # more cases than it can place in the time
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url) if url.startswith("sqlite") else make_engine(url, pool_size=10)
        upgrade(engine)
        sessions = session_factory(engine)
        clock = SystemClock()
        code = f"D{os.getpid()}-{random.randrange(10_000)}"
        world = World(sessions, VirtualClock(clock.now()), code=code)
        run = random.Random().randrange(10_000)
        numbers = [f"+8618{run:04d}{i:05d}" for i in range(calls)]
        with session_scope(sessions) as s:
            survey = s.get(Survey, world.survey_id)
            assert survey is not None
            survey.calling_windows = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}
            survey.field_start, survey.field_end = None, None
            rows = tuple(FrameRow(i + 2, {"number": n, "township": "T01"}) for i, n in enumerate(numbers))
            import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows),
                          world.vault, clock.now())
        ctx = multiprocessing.get_context("spawn")
        here, there = ctx.Pipe()
        fake = ctx.Process(target=serve_fake, args=(there, {n: Resident([], ring_s=60) for n in numbers}, 1.0, 1.0,
                                                        originate_delay_s),
                           daemon=True)
        fake.start()
        ari_url, user, password = here.recv()
        settings = Settings(ari_url=ari_url, ari_username=user, ari_password=password)
        channel = AsteriskChannel(settings, sessions, clock, drain_s=0)
        try:
            channel.preflight(world.survey_id)
            options = WorkerOptions(survey=code, owner="bench", lines=calls, cps=cps, max_seconds=seconds)
            report = run_worker(sessions, channel, clock, world.vault, options)
        finally:
            channel.close()
            here.send("reset")
            here.send("stop")
            here.recv()
            fake.join(10)
            engine.dispose()
    return {"allowed": cps, "placed": report.placed, "seconds": report.elapsed_s,
            "per_s": report.placed / report.elapsed_s}


def _stamp(ari_time: str) -> float:
    """ARI's ``2026-11-02T18:30:00.123+0800`` in seconds."""
    return datetime.strptime(ari_time, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _env(name: str, default: str = "") -> str:
    """``ARI_<name>``, else the live tests' ``MINYI_TEST_ARI_<name>``."""
    return os.environ.get(f"ARI_{name}") or os.environ.get(f"MINYI_TEST_ARI_{name}") or default


def _real_settings() -> Settings:
    return Settings(ari_url=_env("URL"), ari_username=_env("USERNAME", "minyi"), ari_password=_env("PASSWORD"),
                    ari_app=os.environ.get("ARI_APP", "minyi-bench"),
                    asterisk_endpoint=os.environ.get("ASTERISK_ENDPOINT", "Local/{digits}@minyi-bench-residents"))


def _asterisk_cpu_s() -> float | None:
    """CPU seconds the local Asterisk has used (utime + stime), if its pid file is readable."""
    try:
        pid = Path(os.environ.get("ASTERISK_PID_FILE", "/var/run/asterisk/asterisk.pid")).read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _resident(i: int) -> Resident:
    """The bundled questionnaire answered in full; rings and reaction times spread (seeded), half
    of the residents pressing while the prompt plays."""
    rng = random.Random(i)
    keys = [Press(k, during=i % 2 == 0, delay_s=rng.uniform(0.2, 1.5)) for k in COMPLETE]
    return Resident(list(keys), ring_s=rng.uniform(1, 29))


def _group_counts(channel: AsteriskChannel) -> tuple[int, int]:
    """Batches (one transaction each) and keys the app's group commit has done so far."""
    assert channel.app is not None
    return channel.app.keys.batches, channel.app.keys.items


def _run_calls(channel: AsteriskChannel, requests: list[CallRequest]) -> tuple[int, float]:
    """Place every call, wait for all to end; the most lines in use at once, and how many calls
    a second were placed. The originates overlap (``channel.overlap`` awaiting Asterisk's reply at
    once, as the dialer places them): one after another, each waited for a reply from a loop busy
    with the calls already up, and the level was placed over half a minute - the calls of its
    start had ended before those of its end rang, and fewer than the level were held at once."""
    placing = time.monotonic()
    pending: set[Future[CallResult | None]] = set()
    for request in requests:
        if len(pending) >= channel.overlap:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # an originate that failed stops the run
        pending.add(channel.start_call(request))
    for future in pending:
        future.result()
    rate = len(requests) / (time.monotonic() - placing)
    peak = 0
    while lines := channel.lines_in_use():
        peak = max(peak, lines)
        time.sleep(0.05)
    return peak, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="50,100,200", help="simultaneous calls per run, comma-separated")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="wall seconds per call second (0.25: a 1 s prompt plays in 250 ms)")
    parser.add_argument("--db-threads", type=int, default=AsteriskOptions.db_threads,
                        help="threads for the calls' database work")
    parser.add_argument("--prompt-s", type=float, default=1.0, help="length of each prompt, in call seconds")
    parser.add_argument("--dial-cps", type=float, default=None,
                        help="instead: how many calls a second `minyi dial` places when allowed this many (the fake)")
    parser.add_argument("--originate-delay-ms", type=float, default=0.0,
                        help="with --dial-cps: the fake answers each originate this late (a loaded Asterisk: 20)")
    parser.add_argument("--processes", type=int, default=1,
                        help="run each level in this many app processes at once (bench/ari_processes.py)")
    args = parser.parse_args()
    if args.processes > 1:
        from bench import ari_processes

        ari_processes.main(args, real=bool(_env("URL")))
        return
    database_url = os.environ.get("MINYI_DATABASE_URL")
    if args.dial_cps:
        d = dial_rate(args.dial_cps, 10.0, database_url, args.originate_delay_ms / 1000)
        print(f"originates answered {args.originate_delay_ms:g} ms late; dialer allowed {d['allowed']:g} calls/s: placed {d['placed']:.0f} in {d['seconds']:.1f} s = "
              f"{d['per_s']:.1f} calls/s")
        return
    real = bool(_env("URL"))
    where = (f"the real Asterisk at {_env('URL')}, real time, installed prompts" if real else
             f"the fake; prompts {args.prompt_s * args.scale * 1000:.0f} ms; timeouts x{args.scale}")
    print(f"database: {'SQLite file' if not database_url else database_url.split('@')[-1]}; one process; {where}")
    print(f"{'calls':>6} {'placed/s':>8} {'held':>5} {'complete':>8} {'wall s':>7} {'CPU ms/call':>11} "
          f"{'(ast)' if real else '(fake)':>7} {'keys':>6} {'keys/tx':>7} {'CPU ms/key':>10} {'DTMF->next prompt p50':>22} "
          f"{'p99':>8}")
    for level in (int(x) for x in args.levels.split(",")):
        r = (run_level_real(level, database_url, args.db_threads) if real else
             run_level(level, args.scale, args.prompt_s, database_url, args.db_threads))
        print(f"{r['calls']:>6} {r['placed_per_s']:>8.0f} {r['peak']:>5} {r['complete']:>8} {r['wall_s']:>7.1f} {r['cpu_ms_per_call']:>11.0f} "
              f"{r['fake_cpu_ms_per_call']:>7.0f} {r['keys']:>6} {r['keys_per_tx']:>7.1f} {r['cpu_ms_per_key']:>10.2f} {r['p50_ms']:>19.1f} ms {r['p99_ms']:>5.1f} ms")
        for trap in r["traps"][:3]:
            print("  trap:", trap)


if __name__ == "__main__":
    main()
