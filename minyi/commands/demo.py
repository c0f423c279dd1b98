"""``minyi demo``: run :mod:`minyi.demo` with a live display, then print what came out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from analysis.rates import HEADLINE_RATES
from analysis.results import COUNTY
from minyi.demo import HEADLINE, DemoOptions, DemoResult, run_demo
from survey.config import load_settings

NAMES = {"safety": "公众安全感", "satisfaction": "执法满意度"}


def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for the database, frames and bulletin."),
    seed: int = typer.Option(2026, "--seed", help="Seed of the simulated county and its residents."),
    townships: int = typer.Option(21, "--townships", min=2, max=21, help="Townships in the county."),
    quota: int = typer.Option(100, "--quota", min=5, help="Completed interviews wanted per township."),
    quiet: bool = typer.Option(False, "--quiet", help="No live progress display."),
) -> None:
    """Run a whole simulated survey round and write the bulletin."""
    from minyi.dial_display import LiveProgress

    console = Console()
    options = DemoOptions(out=out, seed=seed, townships=townships, quota=quota)
    settings = load_settings({"MINYI_DATABASE_URL": f"sqlite:///{out}/minyi.db"})
    console.print(f"[bold]Minyi demo[/]: {townships} townships, quota {quota} each, seed {seed} → {out}/")
    if quiet:
        result = run_demo(options, settings)
    else:
        with LiveProgress("Asia/Shanghai", console) as show:
            result = run_demo(options, settings, show)
    _print(console, result, options)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _print(console: Console, r: DemoResult, o: DemoOptions) -> None:
    for round_ in r.rounds:
        w = round_.worker
        console.print(f"round {round_.period}: {w.placed} calls, stopped because {w.stop_reason} "
                      f"(virtual time {w.started:%m-%d %H:%M} → {w.ended:%m-%d %H:%M} UTC)")
    console.print(_township_table(r, o))
    county = next(x for x in r.rates if x.stratum == COUNTY)
    rates = "  ".join(f"{k} {_pct(county.rates[k])}%" for k in HEADLINE_RATES)
    console.print(f"AAPOR outcome rates (county): {rates}")
    for index in HEADLINE:
        console.print(_truth_table(r, o, index))
    for note in r.analysis.log[-5:]:
        console.print(f"[dim]note: {note}[/]")
    console.print(f"bulletin: [bold]{r.bulletin}[/]   database: {r.database}   ({r.elapsed_s:.1f} s)")


def _township_table(r: DemoResult, o: DemoOptions) -> Table:
    t = Table(title=f"Indices by township, {o.period} (weighted %, 95% CI; change on {o.previous_period})")
    for col in ("rank", "township", "n", *(NAMES[i] for i in HEADLINE), "Δ安全感", "tier"):
        t.add_column(col, justify="left" if col == "township" else "right")
    ranks = {x.stratum: x for x in r.analysis.ranks if x.index == "safety" and x.period == o.period}
    changes = {c.stratum: c for c in r.analysis.changes if c.index == "safety" and c.period_to == o.period}
    order = sorted(r.names, key=lambda code: ranks[code].rank if code in ranks else 999)
    for code in [*order, COUNTY]:
        cells = []
        for index in HEADLINE:
            e = r.estimate(index, code, o.period)
            cells.append("—" if e is None or e.estimate is None else
                         f"{_pct(e.estimate)} ({_pct(e.ci_low)}–{_pct(e.ci_high)})")
        e = r.estimate("safety", code, o.period)
        change = changes.get(code)
        delta = "—" if change is None or change.change is None else \
            f"{100 * change.change:+.1f}{'*' if change.significant else ''}"
        rank = ranks.get(code)
        t.add_row(f"{rank.rank} [{rank.rank_low}–{rank.rank_high}]" if rank else "",
                  r.names.get(code, "全县 county"), str(e.n if e else 0), *cells, delta, rank.tier if rank else "")
    return t


def _truth_table(r: DemoResult, o: DemoOptions, index: str) -> Table:
    truth, raw = r.truth[index], r.raw[index]
    t = Table(title=f"{NAMES[index]} ({index}): true rate (known to the simulation) vs estimate, %")
    for col in ("township", "true", "weighted", "95% CI", "contains truth", "unweighted"):
        t.add_column(col, justify="left" if col == "township" else "right")
    covered = total = 0
    errors: dict[str, tuple[float, float]] = {}  # area -> distance from the truth, weighted and unweighted
    for code in [*sorted(r.names), COUNTY]:
        e = r.estimate(index, code, o.period)
        if e is None or e.estimate is None or e.ci_low is None or e.ci_high is None:
            continue
        inside = e.ci_low <= truth[code] <= e.ci_high
        covered, total = covered + inside, total + 1
        errors[code] = (abs(e.estimate - truth[code]), abs(raw.get(code, float("nan")) - truth[code]))
        t.add_row(r.names.get(code, "全县 county"), _pct(truth[code]), _pct(e.estimate),
                  f"{_pct(e.ci_low)}–{_pct(e.ci_high)}", "yes" if inside else "[red]no[/]", _pct(raw.get(code)))
    county = errors.pop(COUNTY, (float("nan"), float("nan")))
    towns = max(len(errors), 1)
    t.caption = (f"{covered} of {total} intervals contain the truth; the county's estimate is "
                 f"{100 * county[0]:.1f} points from the truth weighted, {100 * county[1]:.1f} unweighted; "
                 f"townships' mean error {100 * sum(w for w, _ in errors.values()) / towns:.2f} points weighted, "
                 f"{100 * sum(u for _, u in errors.values()) / towns:.2f} unweighted (at ~{o.quota} interviews a "
                 "township's sampling error is as large as the bias that weighting removes)")
    return t
