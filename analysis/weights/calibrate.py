"""Weights of one period: design weights, then post-stratification or raking, collapsing, trimming.

Everything happens on the cell grid (:mod:`analysis.weights.grid`): base weights are constant
within a township, so every respondent of a cell ends with the same weight and the iterations
touch a few hundred cells, not the respondents. The result also carries the calibration groups the
variance needs (post-strata, or the margins raked to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import WeightingError
from analysis.grouping import BoolArray, FloatArray, Groups, IntArray, bincount
from analysis.population import Population
from analysis.results import COUNTY, CellMerge, WeightDiagnostics
from analysis.weights.collapse import CollapseRule, collapse_cells, collapse_margin
from analysis.weights.county import county_margins
from analysis.weights.design import StratifiedDesign
from analysis.weights.grid import CellGrid
from analysis.weights.poststratify import poststratify
from analysis.weights.rake import TOLERANCE, Margin, RakeDidNotConverge, margin_errors, rake
from analysis.weights.trim import TrimRule, trim_and_rake

METHODS = ("poststratify", "rake", "county")
VERIFY = 1e-9  # achieved margins, summed over respondents, must be this close (relative)


@dataclass(frozen=True)
class WeightingOptions:
    method: str = "poststratify"
    collapse: CollapseRule = CollapseRule()
    trim: TrimRule = TrimRule()
    tol: float = TOLERANCE


@dataclass(frozen=True)
class Calibration:
    """Final weights of one period's rows and the calibration groups for the variance.

    The groups are unions of grid cells: ``groupings[0]`` puts every cell in a post-stratum or in a
    level group of the first raked margin; later groupings hold the other raked margins (-1 for
    post-stratified cells).
    """

    design: StratifiedDesign
    weights: FloatArray
    cells: Groups  # grid cell of every row
    cell_township: IntArray  # township of every grid cell
    groupings: tuple[Groups, ...]  # over grid cells
    diagnostics: tuple[WeightDiagnostics, ...]
    log: tuple[str, ...]
    merges: tuple[CellMerge, ...] = ()


@dataclass
class _Record:
    """What happened in each township, for the log and the diagnostics."""

    period: str
    townships: tuple[str, ...]
    merged: dict[int, list[CellMerge]] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)

    def merge(self, h: int, variable: str, levels: list[str], n: FloatArray, N: FloatArray, d: float,
              rule: CollapseRule, within: str = "", whole_margin: bool = False) -> None:
        """Record merged levels, with each level's respondents and why it failed on its own."""
        reasons = tuple(rule.reason(float(a), float(b), d) for a, b in zip(n, N, strict=True))
        self.merged.setdefault(h, []).append(CellMerge(
            self.period, self.townships[h] if h < len(self.townships) else COUNTY, variable, tuple(levels), tuple(int(a) for a in n), reasons, within,
            rule.min_n, whole_margin))

    def merged_text(self, h: int) -> list[str]:
        return [m.text() for m in self.merged.get(h, [])]

    def merges(self) -> tuple[CellMerge, ...]:
        return tuple(m for h in sorted(self.merged) for m in self.merged[h])

    def note(self, h: int, text: str) -> None:
        self.notes.setdefault(h, []).append(text)

    def name(self, h: int) -> str:
        return self.townships[h] if h < len(self.townships) else COUNTY

    def prefix(self, h: int) -> str:
        if h >= len(self.townships):  # the county's pooled cells (--method county)
            return f"period {self.period}, county cells: " if self.period else "county cells: "
        return f"period {self.period}, township {self.townships[h]}: " if self.period else \
            f"township {self.townships[h]}: "

    def lines(self) -> list[str]:
        keys = sorted(set(self.merged) | set(self.notes))
        return [self.prefix(h) + text for h in keys
                for text in self.merged_text(h) + self.notes.get(h, [])]


@dataclass(frozen=True)
class _Raking:
    variables: list[str]
    margins: list[Margin]
    names: list[list[tuple[int, str]]]  # per margin, per group: (township, levels)


def calibrate(design: StratifiedDesign, grid: CellGrid, population: Population,
              options: WeightingOptions, period: str = "") -> Calibration:
    record = _Record(period, design.labels)
    counts = grid.counts()
    town = grid.township_of()
    d = design.N / design.n
    seed = counts * d[town]
    g = np.ones(grid.size)
    ps_groups = np.full(grid.size, -1, dtype=np.intp)
    raked = np.ones(len(design.labels), dtype=bool)
    ps_targets: FloatArray | None = None
    if options.method == "poststratify":
        ps_groups, ps_targets, raked = _post_strata(grid, population, counts, d, options.collapse, record)
        g = poststratify(seed, ps_groups, ps_targets)
    raking = _Raking([], [], [])
    capped = np.zeros(grid.size, dtype=bool)
    if options.method == "county":
        raking = _county(grid, population, counts, design.N, options.collapse, record)
        g, capped = _rake(seed, counts, d[town], grid, raking, options, record)
    elif raked.any():
        raking = _margins(grid, population, counts, d, raked, options.collapse, record)
        in_rake = raked[town]
        g_rake, capped = _rake(seed * in_rake, counts * in_rake, d[town], grid, raking, options, record)
        g[in_rake] = g_rake[in_rake]
    weights = design.base * g[grid.cell]
    _verify(weights, grid, ps_groups, ps_targets, raking, record)
    groupings = _groupings(grid, ps_groups, raked, raking)
    diagnostics = _diagnostics(design, weights, counts, capped, grid, record)
    return Calibration(design, weights, Groups(grid.cell, grid.size), town, groupings, diagnostics,
                       tuple(record.lines()), record.merges())


def _post_strata(grid: CellGrid, population: Population, counts: FloatArray, d: FloatArray,
                 rule: CollapseRule, record: _Record) -> tuple[IntArray, FloatArray, BoolArray]:
    """Post-stratum of every cell and target of every post-stratum; townships to rake instead."""
    N = _cell_targets(grid, population)
    k = grid.per_township
    groups = np.full(grid.size, -1, dtype=np.intp)
    targets: list[float] = []
    raked = np.zeros(len(grid.townships), dtype=bool)
    for h in range(len(grid.townships)):
        block = slice(h * k, (h + 1) * k)
        _no_population(counts[block], N[block], grid, h * k, record, h)
        shape = (len(grid.levels[0]) if grid.by else 1, -1)
        n_h, N_h = counts[block].reshape(shape), N[block].reshape(shape)
        part = collapse_cells(n_h, N_h, float(d[h]), rule)
        if part is None:
            if not rule.enabled:
                _empty_cell(counts[block], N[block], grid, h * k, record, h)
            raked[h] = True
            record.note(h, "cells too thin even after merging adjacent "
                        f"{grid.by[0]} groups; raked to the margins instead")
            continue
        cell_groups = part.groups.reshape(-1)
        inside = cell_groups >= 0
        groups[block][inside] = cell_groups[inside] + len(targets)
        targets.extend(bincount(cell_groups[inside], N[block][inside], int(cell_groups.max()) + 1).tolist())
        for combo, run in part.merged:
            record.merge(h, grid.by[0], [grid.levels[0][i] for i in run], n_h[run, combo], N_h[run, combo],
                         float(d[h]), rule, grid.describe_combo(combo))
    return groups, np.array(targets, dtype=np.float64), raked


def _county(grid: CellGrid, population: Population, counts: FloatArray, N_h: FloatArray, rule: CollapseRule,
            record: _Record) -> _Raking:
    """Township totals and the county's cells (or margins): see :mod:`analysis.weights.county`."""
    cell_N = _cell_targets(grid, population) if population.kind == "cells" else None
    found = county_margins(grid, cell_N, population, counts, N_h, rule)
    for m in found.merges:
        levels = grid.levels[m.variable]
        within = grid.describe_combo(m.combo) if m.combo is not None else ""
        record.merge(len(grid.townships), grid.by[m.variable], [levels[i] for i in m.levels], m.n, m.N, 1.0, rule,
                     within)
    return _Raking(found.variables, found.margins, found.names)


def _cell_targets(grid: CellGrid, population: Population) -> FloatArray:
    """Population count of every grid cell (0 where the population file has none)."""
    cells = population.cell_counts()
    keys = cells.index.to_frame(index=False).astype(str)
    town = pd.Index(grid.townships).get_indexer(keys.iloc[:, 0])
    codes = [pd.Index(levels).get_indexer(keys.iloc[:, v + 1]) for v, levels in enumerate(grid.levels)]
    inside = town >= 0
    within = np.ravel_multi_index([c[inside] for c in codes], grid.shape) if grid.by else 0
    N = np.zeros(grid.size)
    N[town[inside] * grid.per_township + within] = cells.to_numpy(dtype=np.float64)[inside]
    return N


def _no_population(n: FloatArray, N: FloatArray, grid: CellGrid, offset: int, record: _Record,
                   h: int) -> None:
    bad = np.flatnonzero((n > 0) & (N <= 0))
    if bad.size:
        raise WeightingError(f"{record.prefix(h)}{int(n[bad[0]])} respondents in cell "
                             f"{grid.describe(offset + int(bad[0]))}, which has no population",
                             township=grid.townships[h])


def _empty_cell(n: FloatArray, N: FloatArray, grid: CellGrid, offset: int, record: _Record, h: int) -> None:
    bad = int(np.flatnonzero((n <= 0) & (N > 0))[0])
    raise WeightingError(f"{record.prefix(h)}empty cell {grid.describe(offset + bad)} "
                         f"(population {N[bad]:g}, no respondents) and collapsing is off",
                         township=grid.townships[h])


def _margins(grid: CellGrid, population: Population, counts: FloatArray, d: FloatArray,
             raked: BoolArray, rule: CollapseRule, record: _Record) -> _Raking:
    """One margin per weighting variable over the raked townships' cells, thin levels merged.

    Townships whose levels all have respondents and population and all pass the collapse rule
    (nearly all of a province's) are numbered in one pass; the rest go level by level through
    :func:`_margin_runs`, which merges, records and explains.
    """
    targets = population.margin_targets()
    town = grid.township_of()
    towns = len(grid.townships)
    margins: list[Margin] = []
    names: list[list[tuple[int, str]]] = []
    for k, variable in enumerate(grid.by):
        levels, level = grid.levels[k], grid.level_of(k)
        width = len(levels)
        n_l = bincount(town * width + level, counts, towns * width).reshape(towns, width)
        wanted = targets.margins[variable]
        N_l = np.array([[wanted.get(t, {}).get(lv, 0.0) for lv in levels] for t in grid.townships]).reshape(towns, width)
        simple = raked & (rule.passing(n_l, N_l, d[:, None]) & (N_l > 0)).all(axis=1)
        runs = {int(h): _margin_runs(n_l[h], N_l[h], float(d[h]), rule, grid, k, int(h), record)
                for h in np.flatnonzero(raked & ~simple)}
        size = np.where(simple, width, 0)
        size[list(runs)] = [len(r) for r in runs.values()]
        offset = np.cumsum(size) - size
        level_group = np.full((towns, width), -1, dtype=np.intp)
        level_group[simple] = offset[simple, None] + np.arange(width)
        totals = np.zeros(int(size.sum()))
        totals[level_group[simple]] = N_l[simple]
        labels: list[tuple[int, str]] = [(0, "")] * totals.size
        for h in np.flatnonzero(simple).tolist():
            labels[offset[h]:offset[h] + width] = [(h, lv) for lv in levels]
        for merged, township_runs in runs.items():
            for j, run in enumerate(township_runs):
                level_group[merged, run] = offset[merged] + j
                totals[offset[merged] + j] = float(N_l[merged, run].sum())
                labels[offset[merged] + j] = (merged, "+".join(levels[i] for i in run))
        margins.append(Margin(level_group[town, level], totals))
        names.append(labels)
    return _Raking(list(grid.by), margins, names)


def _margin_runs(n_l: FloatArray, N_l: FloatArray, d: float, rule: CollapseRule, grid: CellGrid, k: int,
                 h: int, record: _Record) -> list[list[int]]:
    variable, levels = grid.by[k], grid.levels[k]
    bad = np.flatnonzero((n_l > 0) & (N_l <= 0))
    if bad.size:
        raise WeightingError(f"{record.prefix(h)}{int(n_l[bad[0]])} respondents at {variable}="
                             f"{levels[bad[0]]}, which has no population", township=grid.townships[h],
                             margin=variable)
    runs = collapse_margin(n_l, N_l, d, rule)
    if runs is None:
        empty = int(np.flatnonzero((n_l <= 0) & (N_l > 0))[0])
        raise WeightingError(f"{record.prefix(h)}margin {variable}: nobody at {variable}={levels[empty]} "
                             f"(population {N_l[empty]:g}) and collapsing is off",
                             township=grid.townships[h], margin=variable)
    whole = len(runs) == 1
    for run in runs:
        if len(run) > 1:
            record.merge(h, variable, [levels[i] for i in run], n_l[run], N_l[run], d, rule, whole_margin=whole)
    return runs


def _rake(seed: FloatArray, counts: FloatArray, base: FloatArray, grid: CellGrid, raking: _Raking,
          options: WeightingOptions, record: _Record) -> tuple[FloatArray, BoolArray]:
    town = grid.township_of()
    try:
        if options.trim.active:
            trimmed = trim_and_rake(seed, counts, base, town, raking.margins, options.trim, tol=options.tol)
            return trimmed.factors, trimmed.capped
        return rake(seed, raking.margins, tol=options.tol), np.zeros(seed.size, dtype=bool)
    except RakeDidNotConverge as exc:
        h, levels = raking.names[exc.margin][exc.group]
        variable = raking.variables[exc.margin]
        why = "within the trimming caps" if options.trim.active else f"after {exc.sweeps} sweeps"
        raise WeightingError(f"{record.prefix(h)}raking cannot meet margin {variable} "
                             f"({variable}={levels} off by {exc.error:.2%}) {why}",
                             township=record.name(h), margin=variable) from exc


def _verify(weights: FloatArray, grid: CellGrid, ps_groups: IntArray, ps_targets: FloatArray | None,
            raking: _Raking, record: _Record) -> None:
    """Check the achieved totals on the respondents' weights, not on the cells the fit used."""
    town = grid.township_of()
    cell_totals = bincount(grid.cell, weights, grid.size)
    checks = [(m, raking.variables[k], raking.names[k]) for k, m in enumerate(raking.margins)]
    if ps_targets is not None:
        owner = np.zeros(ps_targets.size, dtype=np.intp)
        owner[ps_groups[ps_groups >= 0]] = town[ps_groups >= 0]
        labels = [(int(h), "cell") for h in owner]
        checks.append((Margin(ps_groups, ps_targets), "post-stratum", labels))
    for margin, variable, names in checks:
        errors = margin_errors(cell_totals, margin)
        if errors.size and errors.max() > VERIFY:
            h, levels = names[int(errors.argmax())]
            raise WeightingError(f"{record.prefix(h)}weights miss {variable}={levels} by "
                                 f"{errors.max():.2e} (relative)", township=record.name(h),
                                 margin=variable)


def _groupings(grid: CellGrid, ps_groups: IntArray, raked: BoolArray, raking: _Raking) -> tuple[Groups, ...]:
    """Calibration groups per cell: post-strata and the first margin first, then the other margins."""
    town = grid.township_of()
    first = ps_groups.copy()
    offset = int(first.max()) + 1 if (first >= 0).any() else 0
    in_rake = raked[town]
    if raking.margins:
        lead = raking.margins[0].groups
        first[in_rake] = lead[in_rake] + offset
        size = offset + raking.margins[0].targets.size
    else:
        first[in_rake] = town[in_rake] + offset
        size = offset + len(grid.townships)
    return (Groups(first, size), *(Groups(m.groups, m.targets.size) for m in raking.margins[1:]))


def _diagnostics(design: StratifiedDesign, weights: FloatArray, counts: FloatArray, capped: BoolArray,
                 grid: CellGrid, record: _Record) -> tuple[WeightDiagnostics, ...]:
    """Weight summaries per township, from group sums in one pass (no mask per township)."""
    trimmed = bincount(grid.township_of(), counts * capped, len(design.labels))
    groups, stratum = design.groups, design.stratum
    n = design.n.astype(np.float64)
    mean = groups.sum(weights) / n
    cv = np.sqrt(groups.sum((weights - mean[stratum]) ** 2) / n) / mean
    low, high = np.full(n.size, np.inf), np.full(n.size, -np.inf)
    np.minimum.at(low, stratum, weights)
    np.maximum.at(high, stratum, weights)
    out = [WeightDiagnostics(period=record.period, stratum=label, n=int(design.n[h]), min=float(low[h]),
                             max=float(high[h]), cv=float(cv[h]), deff_kish=float(1.0 + cv[h] * cv[h]),
                             cells_collapsed=tuple(record.merged_text(h)), trimmed=int(trimmed[h]),
                             notes=tuple(record.notes.get(h, [])))
           for h, label in enumerate(design.labels)]
    merged = tuple(record.prefix(h) + text for h in sorted(record.merged) for text in record.merged_text(h))
    out.append(_summary(record.period, COUNTY, weights, merged, int(trimmed.sum()), ()))
    return tuple(out)


def _summary(period: str, stratum: str, w: FloatArray, merged: tuple[str, ...], trimmed: int,
             notes: tuple[str, ...]) -> WeightDiagnostics:
    mean = float(w.mean())
    cv = float(np.sqrt(np.mean((w - mean) ** 2)) / mean)
    return WeightDiagnostics(period=period, stratum=stratum, n=int(w.size), min=float(w.min()),
                             max=float(w.max()), cv=cv, deff_kish=1.0 + cv * cv, cells_collapsed=merged,
                             trimmed=trimmed, notes=notes)
