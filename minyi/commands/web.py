"""``minyi web``: the development server (werkzeug), or gunicorn when ``--workers`` is given."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from survey.config import Settings, load_settings


def web(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[int | None, typer.Option("--workers", help="Serve with gunicorn and this many workers.")] = None,
    threads: Annotated[int, typer.Option("--threads", help="Threads per gunicorn worker (gthread).")] = 4,
) -> None:
    """Serve the web app on MINYI_DATABASE_URL."""
    from survey.db import open_sessions
    from web import create_app

    settings = load_settings()
    _check_keys(settings, host)
    sessions = open_sessions(settings.database_url)
    if workers is None:
        _run_jobs(settings)
        create_app(settings, sessions).run(host=host, port=port, threaded=True, use_reloader=False)
        return
    if workers < 1:
        raise typer.BadParameter("at least one worker", param_hint="--workers")
    if threads < 1:
        raise typer.BadParameter("at least one thread", param_hint="--threads")
    sessions.kw["bind"].dispose()  # each gunicorn worker opens its own after the fork
    _gunicorn(f"{host}:{port}", workers, threads)


def _check_keys(settings: Settings, host: str) -> None:
    """Print the start-up warnings. Keys unsafe for ``host`` raise a refusal, which the command
    line reports in one line with exit 2 (:func:`minyi.cli._guarded`)."""
    from web.startup import check_keys

    for warning in check_keys(settings, host):
        typer.echo(f"warning: {warning}", err=True)


def _run_jobs(settings: Settings) -> None:
    """A job worker thread in this process, unless MINYI_WEB_RUNS_JOBS=false (a `minyi worker` runs them)."""
    if not settings.web_runs_jobs:
        return
    from jobs.runner import start_thread
    from jobs.sample_import import HANDLERS
    from minyi.commands.jobs_context import job_context

    start_thread(job_context(settings), HANDLERS)


def _gunicorn(bind: str, workers: int, threads: int) -> None:
    """Threaded workers (gthread), which keep connections alive: a webhook waits on the database
    part of its time, and Twilio's many calls in flight then need no process each
    (``bench/bench_twilio.py`` measures this serving, 2 workers x 4 threads on 2 cores)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        """Each worker builds its own app (and database pool) after the fork."""

        def load_config(self) -> None:
            for key, value in {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
                               "accesslog": "-"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from web import create_app

            settings = load_settings()
            _run_jobs(settings)
            return create_app(settings)

    Server().run()
