"""One dialer worker process for the multi-worker tests:
``python dialer_worker_proc.py DATABASE_URL OWNER CALL_SECONDS IN_FLIGHT_FILE [OPTION=SECONDS ...]``,
OPTION one of max_seconds, stale_after, takeover_every_s, heartbeat_every_s, housekeeping_every.
Prints its report as one JSON line."""

from __future__ import annotations

import json
import sys
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

from dialer_fakes import VAULT, ScriptedChannel, random_outcomes  # noqa: E402

from dialer.worker import WorkerOptions, run_worker  # noqa: E402
from survey.clock import SystemClock  # noqa: E402
from survey.db import make_engine, session_factory  # noqa: E402


def main() -> None:
    url, owner, seconds, flag = sys.argv[1:5]
    extra: dict[str, Any] = {}
    for option in sys.argv[5:]:
        name, value = option.split("=")
        extra[name] = timedelta(seconds=float(value)) if name in ("stale_after", "housekeeping_every") else float(value)
    clock = SystemClock()
    channel = ScriptedChannel(clock, default=random_outcomes(zlib.crc32(owner.encode()), complete_share=0.12),
                              real_seconds=float(seconds), in_flight=Path(flag))
    options = WorkerOptions(survey="S1", owner=owner, poll_seconds=0.05,
                            **{"housekeeping_every": timedelta(seconds=0.3), **extra})
    report = run_worker(session_factory(make_engine(url)), channel, clock, VAULT, options)
    print(json.dumps({"owner": owner, "stop": report.stop_reason, "placed": report.placed}))


if __name__ == "__main__":
    main()
