"""A fake Asterisk in a process of its own, as a real one is: a dialer or app under test may be
SIGKILLed, and several fakes stand for several Asterisk servers, without sharing an event loop or
the GIL with the test or with each other. The test talks to it over a pipe: what the fake has
seen (its attributes), a fresh start of its measurements, and at the end its report."""

from __future__ import annotations

import copy
import multiprocessing
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ari_fake.residents import Resident
from ari_fake.server import FakeAsterisk
from ari_fake.spec import AriSpec, spec_dir

# What the fake reports when it stops (and what ``seen`` may ask for besides)
REPORT = ("violations", "traps", "api_key_seen", "latencies", "peak_calls", "events_sent", "stored")


def _serve(conn: Connection, residents: Mapping[str, Resident], options: Mapping[str, Any],
           originate_delay_s: float) -> None:
    """The child: run the fake until told to stop, answering the test's questions meanwhile."""
    directory = spec_dir()
    assert directory is not None, "set MINYI_ARI_SPEC to the ARI 22.10.1 api-docs"
    fake = FakeAsterisk(AriSpec.load(directory), **options)
    fake.originate_delay_s = originate_delay_s
    fake.residents.update(residents)
    fake.start()
    conn.send((fake.url, fake.username, fake.password, fake.app))
    cpu0 = time.process_time()
    while True:
        command, names = conn.recv()
        if command == "reset":
            fake.run(fake.latencies.clear)
            fake.peak_calls, cpu0 = 0, time.process_time()
            conn.send(None)
            continue
        seen = fake.run(lambda asked=names: {name: copy.deepcopy(getattr(fake, name)) for name in asked})
        seen["cpu_s"] = time.process_time() - cpu0
        conn.send(seen)
        if command == "stop":
            fake.stop()
            return


class FakeProcess:
    """``FakeAsterisk(spec, **options)`` with ``residents``, in a spawned process (a daemon: it
    ends with the test process). ``url``, ``username``, ``password`` and ``app`` once started."""

    def __init__(self, residents: Mapping[str, Resident], *, originate_delay_s: float = 0.0,
                 **options: Any) -> None:
        self._args = (dict(residents), options, originate_delay_s)
        self.url = self.username = self.password = self.app = ""
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None

    def start(self, timeout_s: float = 60.0) -> FakeProcess:
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        self._process = context.Process(target=_serve, args=(there, *self._args), daemon=True,
                                        name="fake-asterisk")
        self._process.start()
        if not here.poll(timeout_s):
            self._process.kill()
            raise RuntimeError(f"the fake Asterisk did not start within {timeout_s} s")
        self.url, self.username, self.password, self.app = here.recv()
        self._conn = here
        return self

    def seen(self, *names: str) -> dict[str, Any]:
        """The fake's attributes ``names`` now (copies), and ``cpu_s``: its CPU since the start
        or the last :meth:`reset`."""
        return self._ask("seen", names)

    def reset(self) -> None:
        """Measure afresh: no latencies, no peak, CPU from now."""
        self._ask("reset", ())

    def stop(self) -> dict[str, Any]:
        """Stop the fake; its :data:`REPORT` and ``cpu_s``."""
        report = self._ask("stop", REPORT)
        assert self._process is not None
        self._process.join(10)
        return report

    def kill(self) -> None:
        """End the fake's process at once, if it still runs (a test that failed midway)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(10)

    def _ask(self, command: str, names: tuple[str, ...]) -> Any:
        assert self._conn is not None, "the fake is not started"
        self._conn.send((command, names))
        if not self._conn.poll(30):
            raise RuntimeError(f"the fake Asterisk did not answer {command!r}")
        return self._conn.recv()
