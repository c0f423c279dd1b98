"""``minyi worker``: run the web app's background jobs (sample uploads) until stopped.

Start as many as you like, on any machine that reaches the database: each job is claimed by one.
SIGTERM or Ctrl-C stops a worker after its current job; a worker killed outright leaves its job to
the next worker once the job's lease (60 s) has run out.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run the jobs queued now, then exit.")] = False,
    idle: Annotated[float, typer.Option("--idle", min=0.1, help="Seconds between looks at an empty queue.")] = 1.0,
) -> None:
    """Run queued background jobs (sample uploads from the web app) until stopped (docs/jobs.md)."""
    from jobs.runner import run_next, serve, worker_name
    from jobs.sample_import import HANDLERS
    from minyi.commands.jobs_context import job_context

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    context = job_context()
    if once:
        name = worker_name()
        ran = 0
        while run_next(context, HANDLERS, name):
            ran += 1
        typer.echo(f"{ran} job(s) run")
        return
    stop = threading.Event()

    def stopping(_signum: int, _frame: FrameType | None) -> None:
        typer.echo("stopping after the current job", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    serve(context, HANDLERS, stop, idle_s=idle)
