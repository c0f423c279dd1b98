"""Writing the analysis: CSV (design.md's column contract), JSON, per-respondent weights, and the
console summary."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from analysis.results import (
    COUNTY,
    STRATUM,
    AnalysisResult,
    Change,
    Estimate,
    Rank,
    SmallAreaEstimate,
    Unsampled,
)

CSV_COLUMNS = ("period", "stratum", "index", "n", "estimate", "se", "ci_low", "ci_high", "deff", "n_eff")
SUMMARY_STRATA = 60  # a period with more townships than this gets a summary on the console
NOTES_SHOWN = 10  # weighting notes printed one by one; more are counted, and kept in --json's 'log'
EXTRA_COLUMNS = ("level", "kind", "df", "ci_method", "deff_kish", "dk_rate", "change", "change_se", "change_p",
                 "change_p_adjusted", "rank", "rank_low", "rank_high", "tier", "tier_p",
                 "tier_p_adjusted", "eblup", "eblup_mse", "population_covered", "left_out")
LEFT_OUT_MARK = "†"  # on a county row that leaves out townships without respondents


def csv_rows(result: AnalysisResult) -> list[dict[str, object]]:
    """One row per period x stratum x index: the contract columns, then the extras."""
    changes = {(c.period_to, c.stratum, c.index): c for c in result.changes}
    ranks = {(r.period, r.stratum, r.index): r for r in result.ranks}
    small = {(s.period, s.stratum, s.index): s for s in result.small_area}
    left_out = unsampled_by_period(result)
    rows = []
    for e in result.estimates:
        key = (e.period, e.stratum, e.index)
        rows.append({**{c: getattr(e, c) for c in CSV_COLUMNS}, "level": e.level, "kind": e.kind, "df": e.df,
                     "ci_method": e.ci_method, "deff_kish": e.deff_kish, "dk_rate": e.dk_rate,
                     **_change(changes.get(key)), **_rank(ranks.get(key)), **_small(small.get(key)),
                     **_coverage(e, left_out.get(e.period, []))})
    return rows


def unsampled_by_period(result: AnalysisResult) -> dict[str, list[Unsampled]]:
    """The townships each period's county estimates leave out (no respondents), by period."""
    out: dict[str, list[Unsampled]] = {}
    for u in result.unsampled:
        out.setdefault(u.period, []).append(u)
    return out


def _coverage(e: Estimate, left_out: list[Unsampled]) -> dict[str, object]:
    """On a county row: the share of the population its estimate covers and the townships it leaves out."""
    if e.stratum != COUNTY:
        return {"population_covered": None, "left_out": None}
    return {"population_covered": 1.0 - sum(u.share for u in left_out),
            "left_out": " ".join(u.stratum for u in left_out) or None}


def _left_out_text(left_out: list[Unsampled]) -> str:
    """``T20 (3.1% of the population), T21 (2.5%)``"""
    parts = [f"{u.stratum} ({100 * u.share:.1f}%{' of the population' if i == 0 else ''})"
             for i, u in enumerate(left_out)]
    return ", ".join(parts)


def _change(c: Change | None) -> dict[str, object]:
    return {"change": c.change if c else None, "change_se": c.se if c else None,
            "change_p": c.p_value if c else None, "change_p_adjusted": c.p_adjusted if c else None}


def _rank(r: Rank | None) -> dict[str, object]:
    return {"rank": r.rank if r else None, "rank_low": r.rank_low if r else None,
            "rank_high": r.rank_high if r else None, "tier": r.tier if r else None,
            "tier_p": r.p_value if r else None, "tier_p_adjusted": r.p_adjusted if r else None}


def _small(s: SmallAreaEstimate | None) -> dict[str, object]:
    return {"eblup": s.eblup if s else None, "eblup_mse": s.mse if s else None}


def write_csv(result: AnalysisResult, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*CSV_COLUMNS, *EXTRA_COLUMNS])
        writer.writeheader()
        for row in csv_rows(result):
            writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: object) -> object:
    """Full-precision numbers; empty for "not estimable"."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def to_json(result: AnalysisResult) -> str:
    """The result as JSON, non-finite numbers as null. One line: with ``indent`` the json module
    encodes in Python instead of C, 5 times slower (1.3 s for a province's 3,350 townships)."""
    return json.dumps(_clean(asdict(result)), ensure_ascii=False, allow_nan=False)


def _clean(node: object) -> object:
    if isinstance(node, dict):
        return {str(k): _clean(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_clean(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def write_json(result: AnalysisResult, path: Path) -> None:
    path.write_text(to_json(result), encoding="utf-8")


def write_weights(weights: pd.DataFrame, path: Path, id_column: str = "id") -> None:
    """Each respondent's id and final weight."""
    frame = weights[["id", "weight"]].rename(columns={"id": id_column})
    frame.to_csv(path, index=False, float_format="%.17g")


def print_summary(result: AnalysisResult, console: Console | None = None, full_table: Path | None = None) -> None:
    """The estimates table per period, the weights and the flags.

    A large run (more than ``SUMMARY_STRATA`` townships in a period) shows its groups and the whole
    file only, and says that every row is in ``full_table``; its flags are counted, not listed.
    """
    console = console or Console()
    left_out = unsampled_by_period(result)
    for period in dict.fromkeys(e.period for e in result.estimates):
        rows = [e for e in result.estimates if e.period == period]
        towns = _townships(rows)
        large = towns > SUMMARY_STRATA
        missing = left_out.get(period, [])
        console.print(_period_table(period, [e for e in rows if e.level != STRATUM or e.stratum == COUNTY]
                                    if large else rows, bool(missing)))
        if missing:
            covered = 100 * (1 - sum(u.share for u in missing))
            console.print(f"{LEFT_OUT_MARK} {COUNTY} covers {covered:.1f}% of the population: it leaves out "
                          f"{len(missing)} township{'s' if len(missing) > 1 else ''} with no respondents: "
                          f"{_left_out_text(missing)}", highlight=False)
        if large:
            console.print(f"{towns} townships not shown" + (f"; every row is in {full_table}" if full_table else ""))
    for d in result.diagnostics:
        if d.stratum == COUNTY:
            console.print(f"weights {d.period}: min {d.min:.4g}, max {d.max:.4g}, CV {d.cv:.3f}, Kish deff "
                          f"{d.deff_kish:.3f}, cells collapsed {len(d.cells_collapsed)}, trimmed {d.trimmed}")
    _print_merges(result, console)
    method = result.method
    console.print(f"weighting {method.weighting}, {method.variance} standard errors, {method.ci} intervals for "
                  f"shares, {method.score_ci} for scores (docs/methods.md)")
    significant = [c for c in result.changes if c.significant]
    if result.changes:
        console.print(f"changes: {len(significant)} of {len(result.changes)} significant after adjustment")
    if len(result.flags) > SUMMARY_STRATA:
        console.print(f"[yellow]flag[/yellow] {len(result.flags)} flags (see --json 'flags')")
    else:
        for line in result.flags:
            console.print(f"[yellow]flag[/yellow] {line}")
    if len(result.log) > NOTES_SHOWN:
        console.print(f"{len(result.log)} weighting notes (see --json 'log')")
    else:  # a few notes (a margin rescaled to the township's total, ...) are read, not looked for
        for line in result.log:
            console.print(f"note: {line}", soft_wrap=True)


def _print_merges(result: AnalysisResult, console: Console) -> None:
    """Which weighting cells were merged, why and with how many respondents (all of them, or a count)."""
    if len(result.merges) > SUMMARY_STRATA:
        console.print(f"{len(result.merges)} merges of thin weighting cells (see --json 'merges')")
        return
    for m in result.merges:
        period = f"period {m.period}, " if m.period else ""
        console.print(f"[yellow]cells[/yellow] {period}township {m.stratum}: {m.text()}")


def is_large(result: AnalysisResult) -> bool:
    """Whether :func:`print_summary` leaves the townships out."""
    by_period: dict[str, list[Estimate]] = {}
    for e in result.estimates:
        by_period.setdefault(e.period, []).append(e)
    return any(_townships(rows) > SUMMARY_STRATA for rows in by_period.values())


def _townships(rows: list[Estimate]) -> int:
    return len({e.stratum for e in rows if e.level == STRATUM and e.stratum != COUNTY})


def _period_table(period: str, estimates: list[Estimate], partial_county: bool = False) -> Table:
    indices = list(dict.fromkeys(e.index for e in estimates))
    table = Table(title=f"period {period}: estimate [95% CI] (n)")
    table.add_column("stratum")
    for name in indices:
        table.add_column(name, justify="right")
    cells = {(e.stratum, e.index): e for e in estimates}
    for stratum in dict.fromkeys(e.stratum for e in estimates):
        label = f"{stratum} {LEFT_OUT_MARK}" if partial_county and stratum == COUNTY else stratum
        table.add_row(label, *(_text(cells.get((stratum, name))) for name in indices),
                      end_section=stratum == COUNTY)
    return table


def _text(e: Estimate | None) -> str:
    if e is None or e.estimate is None or e.ci_low is None or e.ci_high is None:
        return f"not estimable (n={e.n})" if e else ""
    scale, unit = (100.0, "%") if e.kind == "share" else (1.0, "")
    return f"{e.estimate * scale:.1f}{unit} [{e.ci_low * scale:.1f}, {e.ci_high * scale:.1f}] ({e.n})"
