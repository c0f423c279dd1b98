"""A live terminal view of a dialling run (rich), fed by the worker's progress callback."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dialer.worker import Progress
from survey.aapor import DISPOSITIONS
from survey.clock import to_local


class LiveProgress:
    """``with LiveProgress(tz) as show: run_worker(..., progress=show)``."""

    def __init__(self, timezone: str, console: Console | None = None) -> None:
        self.timezone = timezone
        # Drawn when the worker reports (every progress_every_s), not by a timer thread as well: a
        # frame costs milliseconds that the dialling loop, sharing the interpreter, would wait for.
        self.live = Live(Text("starting…"), console=console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.live.__exit__(kind, exc, tb)
        if not self.live.console.is_terminal:  # rich leaves the last frame's line open when piped
            self.live.console.line()

    def __call__(self, progress: Progress) -> None:
        self.live.update(render(progress, self.timezone), refresh=True)


def render(p: Progress, timezone: str) -> Group:
    local = to_local(p.now, timezone).strftime("%Y-%m-%d %a %H:%M")
    state = "calling" if p.window_open else "outside calling hours"
    head = Text(f"{local} ({state})  ·  calls placed {p.placed}  ·  results {p.results}  ·  "
                f"lines in use {p.lines_in_use}  ·  {p.elapsed_s:.1f} s")
    towns = Table(title="Completes by township", expand=False)
    for col in ("township", "quota", "completes", "open", "held", ""):
        towns.add_column(col, justify="right" if col not in ("township", "") else "left")
    for s in p.strata:
        bar = "█" * min(20, round(20 * s.ratio)) if s.quota else ""
        towns.add_row(f"{s.code} {s.name}", str(s.quota or "-"), str(s.completes), str(s.dialable + s.leased),
                      str(s.held), bar)
    codes = Table(title="Dispositions (this worker's calls)", expand=False)
    codes.add_column("code")
    codes.add_column("meaning")
    codes.add_column("calls", justify="right")
    for code, n in sorted(p.dispositions.items()):
        codes.add_row(code, DISPOSITIONS[code].en if code in DISPOSITIONS else "", str(n))
    parts: list[Text | Table] = [head, towns, codes]
    if p.stop_reason:
        parts.append(Text(f"stopped: {p.stop_reason}", style="bold"))
    return Group(*parts)
