"""Index estimates per township, per group of townships (e.g. county) and for the whole file in one
period, with linearised SEs.

For a domain D (a township, a group, or the whole file) and an index with value y and valid-answer
mask delta:

    estimate  = sum w delta y / sum w delta
    u_i       = delta_i (y_i - estimate) / sum_D w delta     (0 outside D and for DK/refused)

u goes through :mod:`analysis.variance` (calibration residuals) and the stratified formula, both
from per-cell sums (:mod:`analysis.cell_moments`: no respondents x domains matrix), which is R's
``svymean(~y, subset(design, ...), na.rm=TRUE)`` on a calibrated design: no row is dropped before
the variance. A composite sum_k a_k estimate_k has influence sum_k a_k u_k. The domains of one
level are disjoint, so one column holds every domain's u at that level; calibration groups and
strata lie within a township, so a group's variance is the sum of its townships' stratum terms.

Reported beside each estimate: the design effect as R's ``deff=TRUE`` computes it (V over the
SRSWOR variance (1 - n/N^) s^2/n of the same n; None when it is undefined: for composites, which
have no single s^2, and when every valid answer is alike, s^2 = 0 up to rounding), the
Kish weighting effect 1 + CV^2 of the valid answers' weights, and the effective n sigma^2/V
(p(1-p)/V for shares; the Kish n/deff_kish when V = 0). df: n_valid - 1 for a township,
n_valid - (townships with a valid answer) for a group or the whole file. 0-1 valid answers: not
estimable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.cell_moments import (
    CellMoments,
    Column,
    Variable,
    column_spread,
    column_sums,
    stratum_terms,
    town_sums,
)
from analysis.grouping import BoolArray, FloatArray, IntArray, bincount
from analysis.indices import ItemValues, composite_range
from analysis.intervals import ZERO_SE, IntervalMethods, intervals
from analysis.pooled_variance import PooledFit
from analysis.replicates import MAX_STACK, NoJackknife, jackknife, jackknife_variance, replicate_values
from analysis.results import ALL, COUNTY, GROUP, STRATUM, Estimate
from analysis.spec import CompositeIndex, Index
from analysis.variance import R_RAKE_SWEEPS, Residualiser, within_townships
from analysis.weights.calibrate import Calibration

LINEAR, JACKKNIFE = "linear", "jackknife"
VARIANCES = (JACKKNIFE, LINEAR)


@dataclass(frozen=True)
class Rollup:
    """Groups of townships (e.g. the counties of a province) estimated beside the townships.

    ``group_of`` holds the group of every stratum of the design; ``labels`` the stratum value of
    each group's rows. Without groups (the default) there are townships and the whole file only.
    """

    group_of: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Layout:
    """The domains of a period: townships in stratum order, then the groups, then the whole file."""

    calibration: Calibration
    rollup: Rollup

    @property
    def towns(self) -> int:
        return len(self.calibration.design.labels)

    @property
    def levels(self) -> tuple[str, ...]:
        return (STRATUM, GROUP, ALL) if self.rollup.labels else (STRATUM, ALL)

    def sums(self, values: FloatArray) -> FloatArray:
        """Sums of a per-row quantity over every domain."""
        per_town = self.calibration.design.groups.sum(values)
        return np.concatenate([per_town, self.up(per_town), [values.sum()]])

    @cached_property
    def cell_weights(self) -> FloatArray:
        """Every grid cell's weight (its respondents share one; 0 for an empty cell)."""
        cells = self.calibration.cells
        return np.asarray(cells.sum(self.calibration.weights) / np.maximum(cells.count, 1), dtype=np.float64)

    def cell_sums(self, per_cell: FloatArray) -> FloatArray:
        """Sums of a per-cell quantity over every domain."""
        per_town = town_sums(self.calibration.cell_township, per_cell, self.towns)
        return np.concatenate([per_town, self.up(per_town), [per_town.sum()]])

    def level_cell_sums(self, level: str, per_cell: FloatArray) -> FloatArray:
        """Sums of a per-cell quantity over the domains of one level."""
        per_town = town_sums(self.calibration.cell_township, per_cell, self.towns)
        if level == ALL:
            return np.array([per_town.sum()])
        return per_town if level == STRATUM else self.up(per_town)

    def up(self, per_town: FloatArray) -> FloatArray:
        """Per-group sums of a per-township quantity."""
        return bincount(self.rollup.group_of, per_town, len(self.rollup.labels))

    def domain_of_rows(self, level: str) -> IntArray:
        """Every row's domain at ``level``, as an index into the domain vectors."""
        stratum = self.calibration.design.stratum
        if level == STRATUM:
            return stratum
        if level == GROUP:
            return self.towns + self.rollup.group_of[stratum]
        return np.full(stratum.size, self.towns + len(self.rollup.labels), dtype=np.intp)

    def domain_of_cells(self, level: str) -> IntArray:
        """Every grid cell's domain at ``level``, as an index into the domain vectors."""
        town = self.calibration.cell_township
        if level == STRATUM:
            return town
        if level == GROUP:
            return self.towns + self.rollup.group_of[town]
        return np.full(town.size, self.towns + len(self.rollup.labels), dtype=np.intp)

    def town_domain(self, level: str) -> IntArray:
        """Every township's domain among those of ``level`` (0 for the whole file)."""
        if level == STRATUM:
            return np.arange(self.towns)
        return self.rollup.group_of if level == GROUP else np.zeros(self.towns, dtype=np.intp)

    def level_sizes(self) -> tuple[int, ...]:
        return (self.towns, len(self.rollup.labels), 1) if self.rollup.labels else (self.towns, 1)


@dataclass(frozen=True)
class _Domains:
    """One index over the domains of a :class:`_Layout`."""

    estimate: FloatArray
    weight: FloatArray  # sum of w delta
    n: FloatArray
    kish: FloatArray  # n sum (w delta)^2 / (sum w delta)^2
    sigma2: FloatArray  # sum w delta (y - est)^2 / sum w delta; NaN for composites
    dk_rate: FloatArray
    estimable: BoolArray  # per domain: every part has 2 or more valid answers


@dataclass(frozen=True)
class PeriodEstimates:
    estimates: list[Estimate]
    se_vs_county: dict[tuple[str, str], float]  # (index, township or group) -> SE of it minus the county
    variance: str = LINEAR  # the variance actually used: LINEAR or JACKKNIFE
    note: str | None = None  # why the jackknife asked for was not used


def estimate_period(period: str, calibration: Calibration, items: Mapping[str, ItemValues],
                    indices: tuple[Index, ...], ci_method: str = "logit",
                    projection: str = "exact", rollup: Rollup = Rollup(),
                    variance: str = LINEAR, score_ci: str = "logit") -> PeriodEstimates:
    """Every index over every domain; ``variance`` is LINEAR (linearisation with calibration
    residuals, ``projection`` as in :mod:`analysis.variance`) or JACKKNIFE (:mod:`analysis.replicates`).
    ``ci_method`` is the shares' interval, ``score_ci`` the scores' (:mod:`analysis.intervals`)."""
    ci = IntervalMethods(ci_method, score_ci)
    layout = _Layout(calibration, rollup)
    moments = CellMoments(calibration.cells, items)
    domains = _all_domains(layout, moments, items, indices)
    if variance == JACKKNIFE:
        try:
            return _jackknife(period, layout, domains, items, indices, ci)
        except NoJackknife as exc:
            found = _linearised(period, layout, moments, domains, items, indices, ci, projection)
            return replace(found, note=f"jackknife not used ({exc}); linearised variance instead")
    return _linearised(period, layout, moments, domains, items, indices, ci, projection)


def _jackknife(period: str, layout: _Layout, domains: Mapping[str, _Domains], items: Mapping[str, ItemValues],
               indices: tuple[Index, ...], ci_method: IntervalMethods) -> PeriodEstimates:
    calibration = layout.calibration
    width = sum(layout.level_sizes())
    if calibration.weights.size * width * len(items) > MAX_STACK:  # checked before raking the replicates
        raise NoJackknife(f"{calibration.weights.size} respondents x {width} domains are too many")
    rep = jackknife(calibration)
    own = np.column_stack([layout.domain_of_cells(level) for level in layout.levels])
    simple = {name: replicate_values(rep, calibration, item.y, item.valid.astype(np.float64), own, width,
                                     domains[name].estimate) for name, item in items.items()}
    labels = (*calibration.design.labels, *layout.rollup.labels)
    rows: list[Estimate] = []
    versus: dict[tuple[str, str], float] = {}
    for index in indices:
        values = _weighted_sum([(simple[p], a) for p, a in index.components]) \
            if isinstance(index, CompositeIndex) else simple[index.name]
        full = np.nan_to_num(domains[index.name].estimate)
        variance = jackknife_variance(rep, calibration, values, full)
        apart = jackknife_variance(rep, calibration, values[:, :-1] - values[:, -1:], full[:-1] - full[-1])
        rows += _rows(period, index, domains[index.name], variance, _census(layout), layout, ci_method, items)
        versus.update({(index.name, label): float(np.sqrt(v)) for label, v in zip(labels, apart, strict=True)})
    return PeriodEstimates(rows, versus, JACKKNIFE)


def _linearised(period: str, layout: _Layout, moments: CellMoments, domains: Mapping[str, _Domains],
                items: Mapping[str, ItemValues], indices: tuple[Index, ...], ci_method: IntervalMethods,
                projection: str) -> PeriodEstimates:
    """Linearised SEs from per-cell sums (:mod:`analysis.cell_moments`); calibration groups lie
    within townships, so a township's residuals stay in its own stratum."""
    calibration, rollup = layout.calibration, layout.rollup
    if not within_townships(calibration):
        return _linearised_wide(period, layout, moments, domains, items, indices, ci_method, projection)
    columns = []
    for index in indices:  # each level, then each level but the whole file minus the whole file
        levels = _level_columns(layout, index, domains)
        columns += levels + [column.minus(levels[-1]) for column in levels[:-1]]
    sums = np.column_stack([column_sums(moments, c) for c in columns])
    spread = np.column_stack([column_spread(moments, c) for c in columns])
    parts = stratum_terms(calibration, sums, spread, Residualiser(calibration, projection).fitted(sums))
    width = 2 * len(layout.levels) - 1
    labels = (*calibration.design.labels, *rollup.labels)
    rows: list[Estimate] = []
    versus: dict[tuple[str, str], float] = {}
    for k, index in enumerate(indices):
        variance, apart = _variances(layout, parts[:, k * width:(k + 1) * width])
        rows += _rows(period, index, domains[index.name], variance, _census(layout), layout, ci_method, items)
        versus.update({(index.name, label): float(np.sqrt(v)) for label, v in zip(labels, apart, strict=True)})
    return PeriodEstimates(rows, versus)


def _level_columns(layout: _Layout, index: Index, domains: Mapping[str, _Domains]) -> list[Column]:
    """An index's influence columns, one per level: in a cell, u = (t - E v) / W summed over the
    index's items (weighted for a composite), E and W those of the cell's domain at that level."""
    parts = index.components if isinstance(index, CompositeIndex) else ((index.name, 1.0),)
    levels = []
    for level in layout.levels:
        cell_domain = layout.domain_of_cells(level)
        terms: list[tuple[Variable, FloatArray]] = []
        for name, a in parts:
            slope = a * _ratio(np.ones_like(domains[name].weight), domains[name].weight)[cell_domain]
            terms += [((name, "t"), slope), ((name, "v"), -slope * domains[name].estimate[cell_domain])]
        levels.append(Column(terms))
    return levels


def _linearised_wide(period: str, layout: _Layout, moments: CellMoments, domains: Mapping[str, _Domains],
                     items: Mapping[str, ItemValues], indices: tuple[Index, ...], ci_method: IntervalMethods,
                     projection: str) -> PeriodEstimates:
    """As :func:`_linearised` when calibration groups span townships (``--method county``): the
    fitted part of a domain's influence values then reaches into every township, so each domain's
    variance sums the terms of every stratum, by block elimination of the township totals
    (:mod:`analysis.pooled_variance`: per township and per domain, no cells x domains matrix)."""
    calibration = layout.calibration
    fit = PooledFit(calibration, projection == "exact", R_RAKE_SWEEPS)
    labels = (*calibration.design.labels, *layout.rollup.labels)
    rows: list[Estimate] = []
    versus: dict[tuple[str, str], float] = {}
    for index in indices:
        levels = list(zip(layout.levels, _level_columns(layout, index, domains), layout.level_sizes(), strict=True))
        whole = levels[-1][1]
        variance = np.concatenate([fit.variances(_side(moments, column), None, layout.town_domain(level), size)
                                   for level, column, size in levels])
        outside = _side(moments, whole.negated())
        apart = np.concatenate([fit.variances(_side(moments, column.minus(whole)), outside,
                                              layout.town_domain(level), size) for level, column, size in levels[:-1]])
        rows += _rows(period, index, domains[index.name], variance, _census(layout), layout, ci_method, items)
        versus.update({(index.name, label): float(np.sqrt(v)) for label, v in zip(labels, apart, strict=True)})
    return PeriodEstimates(rows, versus)


def _side(moments: CellMoments, column: Column) -> tuple[FloatArray, FloatArray]:
    """Per-cell sums and centred sums of squares of a column's influence values."""
    return column_sums(moments, column), column_spread(moments, column)


def _variances(layout: _Layout, parts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Variance of every domain's estimate and of every township's and group's difference from the
    whole file, from the stratum terms of the columns (each level, then each level minus the whole)."""
    levels = len(layout.levels)
    whole = parts[:, levels - 1]
    variance = [parts[:, 0]] + [layout.up(parts[:, j]) for j in range(1, levels - 1)] + [np.array([whole.sum()])]
    apart = [whole.sum() - whole + parts[:, levels]]
    apart += [whole.sum() - layout.up(whole) + layout.up(parts[:, levels + j]) for j in range(1, levels - 1)]
    return np.concatenate(variance), np.concatenate(apart)


def _census(layout: _Layout) -> BoolArray:
    """Domains all of whose townships were enumerated completely."""
    sampled = (layout.calibration.design.fpc > 0).astype(np.float64)
    census: BoolArray = np.concatenate([sampled, layout.up(sampled), [sampled.sum()]]) == 0
    return census


def _all_domains(layout: _Layout, moments: CellMoments, items: Mapping[str, ItemValues],
                 indices: tuple[Index, ...]) -> dict[str, _Domains]:
    out = {i.name: _item_domains(layout, moments, i.name) for i in indices if not isinstance(i, CompositeIndex)}
    for index in indices:
        if isinstance(index, CompositeIndex):
            out[index.name] = _composite_domains(layout, index, items, out)
    return out


def _item_domains(layout: _Layout, moments: CellMoments, name: str) -> _Domains:
    """From per-cell sums: every respondent of a cell has the cell's weight."""
    w, count = layout.cell_weights, moments.count
    t, v = moments.sums((name, "t")), moments.sums((name, "v"))
    total_w = layout.cell_sums(w * v)
    estimate = _ratio(layout.cell_sums(w * t), total_w)
    sigma2 = []
    for level in layout.levels:
        centre = estimate[layout.domain_of_cells(level)]
        spread = column_spread(moments, Column([((name, "t"), np.ones_like(w)), ((name, "v"), -centre)]))
        squares = spread + (t - centre * v) ** 2 / np.maximum(count, 1.0)  # sum over the cell of v (y - E)^2
        sigma2.append(layout.level_cell_sums(level, w * squares))
    n = layout.cell_sums(v)
    kish = np.divide(n * layout.cell_sums(w * w * v), total_w * total_w, out=np.full(n.size, np.nan),
                     where=total_w > 0)
    dk_rate = _ratio(layout.cell_sums(w * (count - v)), layout.cell_sums(w * count))
    return _Domains(estimate, total_w, n, kish, _ratio(np.concatenate(sigma2), total_w), dk_rate, total_w > 0)


def _composite_domains(layout: _Layout, index: CompositeIndex, items: Mapping[str, ItemValues],
                       parts: Mapping[str, _Domains]) -> _Domains:
    valid = np.zeros(layout.calibration.weights.size, dtype=bool)
    for name, _ in index.components:
        valid |= items[name].valid
    w = layout.calibration.weights
    comps = [(parts[name], a) for name, a in index.components]
    estimable = np.all([d.estimable & (d.n > 1) for d, _ in comps], axis=0)
    estimate = np.where(estimable, _weighted_sum([(d.estimate, a) for d, a in comps]), np.nan)
    return _Domains(
        estimate=estimate,
        weight=layout.sums(w * valid),
        n=_counts(layout, valid),
        kish=_kish(layout, w * valid, valid),
        sigma2=np.full(estimate.size, np.nan),
        dk_rate=_weighted_sum([(d.dk_rate, a) for d, a in comps]),
        estimable=estimable,
    )


def _rows(period: str, index: Index, d: _Domains, variance: FloatArray, census: BoolArray, layout: _Layout,
          ci_method: IntervalMethods, items: Mapping[str, ItemValues]) -> list[Estimate]:
    low, high = _range(index, items)
    variance = np.maximum(variance, 0.0)
    variance[np.sqrt(variance) <= ZERO_SE * (high - low)] = 0.0  # rounding noise, e.g. all answers alike
    se = np.sqrt(variance)
    sigma2 = np.where(np.sqrt(d.sigma2) <= ZERO_SE * (high - low), 0.0, d.sigma2)  # same noise rule
    df = d.n - _strata_answering(layout, d.n)
    ok = d.estimable & (d.n > 1) & (df > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_kish = d.n / d.kish
        n_eff = np.where(variance > 0, sigma2 / variance, n_kish)
        srs = (1 - d.n / d.weight) * sigma2 / (d.n - 1)
        deff = np.where(srs > 0, variance / srs, np.nan)
    ci = intervals(share=index.kind == "share", method=ci_method.share, estimate=d.estimate[ok], se=se[ok],
                   df=df[ok], n=d.n[ok], n_eff=n_eff[ok], n_kish=n_kish[ok], low=low, high=high,
                   census=census[ok], score_method=ci_method.score)
    labels = (*layout.calibration.design.labels, *layout.rollup.labels, COUNTY)
    levels = np.repeat(layout.levels, layout.level_sizes()).tolist()
    ci_low, ci_high, method = _spread(ok, ci.low), _spread(ok, ci.high), _spread(ok, ci.method)
    n, dk_rate, kish, value, error = d.n.tolist(), d.dk_rate.tolist(), d.kish.tolist(), d.estimate.tolist(), se.tolist()
    design_effect, effective, freedom = deff.tolist(), n_eff.tolist(), df.tolist()
    rows: list[Estimate] = []
    for j, stratum in enumerate(labels):
        if ok[j]:
            rows.append(Estimate(period=period, stratum=stratum, index=index.name, kind=index.kind, n=int(n[j]),
                                 estimate=value[j], se=error[j], ci_low=ci_low[j], ci_high=ci_high[j],
                                 deff=_number(design_effect[j]), deff_kish=kish[j], n_eff=_number(effective[j]),
                                 dk_rate=_number(dk_rate[j]), ci_method=str(method[j]), df=int(freedom[j]),
                                 level=levels[j]))
        else:
            rows.append(Estimate(period=period, stratum=stratum, index=index.name, kind=index.kind, n=int(n[j]),
                                 estimate=None, se=None, ci_low=None, ci_high=None, deff=None, deff_kish=None,
                                 n_eff=None, dk_rate=_number(dk_rate[j]), ci_method="not estimable",
                                 level=levels[j]))
    return rows


def _spread(ok: BoolArray, values: NDArray[Any]) -> list[Any]:
    """Values given for the domains where ``ok`` holds, as a list over every domain (None elsewhere)."""
    out = np.full(ok.size, None, dtype=object)
    out[ok] = values
    return [v.item() if isinstance(v, np.generic) else v for v in out.tolist()]


def _strata_answering(layout: _Layout, n: FloatArray) -> FloatArray:
    """The design df's strata count per domain: 1 for a township, else its townships with answers."""
    answering = (n[:layout.towns] > 0).astype(np.float64)
    return np.concatenate([np.ones(layout.towns), layout.up(answering), [answering.sum()]])


def _weighted_sum(terms: list[tuple[FloatArray, float]]) -> FloatArray:
    total = np.zeros_like(terms[0][0])
    for values, weight in terms:
        total += weight * values
    return total


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _counts(layout: _Layout, valid: BoolArray) -> FloatArray:
    return layout.sums(valid.astype(np.float64))


def _kish(layout: _Layout, wv: FloatArray, valid: BoolArray) -> FloatArray:
    n, total = _counts(layout, valid), layout.sums(wv)
    kish: FloatArray = np.divide(n * layout.sums(wv * wv), total * total, out=np.full(n.size, np.nan),
                                 where=total > 0)
    return kish


def _range(index: Index, items: Mapping[str, ItemValues]) -> tuple[float, float]:
    if isinstance(index, CompositeIndex):
        return composite_range(index, items)
    return items[index.name].low, items[index.name].high


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
