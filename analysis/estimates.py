"""Index estimates per township and for the county in one period, with linearised SEs.

For a domain D (a township, or the county) and an index with value y and valid-answer mask delta:

    estimate  = sum w delta y / sum w delta
    u_i       = delta_i (y_i - estimate) / sum_D w delta     (0 outside D and for DK/refused)

u goes through :mod:`analysis.variance` (calibration residuals, stratified formula), which is R's
``svymean(~y, subset(design, ...), na.rm=TRUE)`` on a calibrated design: no row is dropped before
the variance. A composite sum_k a_k estimate_k has influence sum_k a_k u_k.

Reported beside each estimate: the design effect as R's ``deff=TRUE`` computes it (V over the
SRSWOR variance (1 - n/N^) s^2/n of the same n; None for composites, which have no single s^2), the
Kish weighting effect 1 + CV^2 of the valid answers' weights, and the effective n sigma^2/V
(p(1-p)/V for shares; the Kish n/deff_kish when V = 0). df: n_valid - 1 for a township,
n_valid - (townships with a valid answer) for the county. 0-1 valid answers: not estimable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from analysis.grouping import BoolArray, FloatArray
from analysis.indices import ItemValues, composite_range
from analysis.intervals import ZERO_SE, intervals
from analysis.results import COUNTY, Estimate
from analysis.spec import CompositeIndex, Index
from analysis.variance import Residualiser, stratum_contributions
from analysis.weights.calibrate import Calibration


@dataclass(frozen=True)
class _Domains:
    """One index over the domains (townships in stratum order, then the county)."""

    estimate: FloatArray
    weight: FloatArray  # sum of w delta
    u_town: FloatArray  # influence of every township's estimate, each row in its own township
    u_county: FloatArray
    n: FloatArray
    kish: FloatArray  # n sum (w delta)^2 / (sum w delta)^2
    sigma2: FloatArray  # sum w delta (y - est)^2 / sum w delta; NaN for composites
    dk_rate: FloatArray
    n_strata: int  # townships with a valid answer
    estimable: BoolArray  # per domain: every part has 2 or more valid answers


@dataclass(frozen=True)
class PeriodEstimates:
    estimates: list[Estimate]
    se_vs_county: dict[tuple[str, str], float]  # (index, township) -> SE of township minus county


def estimate_period(period: str, calibration: Calibration, items: Mapping[str, ItemValues],
                    indices: tuple[Index, ...], ci_method: str = "logit",
                    projection: str = "exact") -> PeriodEstimates:
    domains = _all_domains(calibration, items, indices)
    columns = []
    for d in domains.values():
        columns += [d.u_town, d.u_county, d.u_town - d.u_county]
    design = calibration.design
    e = Residualiser(calibration, projection)(np.column_stack(columns))
    parts = stratum_contributions(calibration.weights[:, None] * e, design)
    rows: list[Estimate] = []
    versus: dict[tuple[str, str], float] = {}
    for k, index in enumerate(indices):
        town, county, diff = parts[:, 3 * k], parts[:, 3 * k + 1], parts[:, 3 * k + 2]
        variance = np.append(town, county.sum())
        census = np.append(design.fpc <= 0, bool(np.all(design.fpc <= 0)))
        rows += _rows(period, index, domains[index.name], variance, census, design.labels, ci_method, items)
        for h, label in enumerate(design.labels):
            versus[(index.name, label)] = float(np.sqrt(county.sum() - county[h] + diff[h]))
    return PeriodEstimates(rows, versus)


def _all_domains(calibration: Calibration, items: Mapping[str, ItemValues],
                 indices: tuple[Index, ...]) -> dict[str, _Domains]:
    out = {i.name: _item_domains(calibration, items[i.name]) for i in indices
           if not isinstance(i, CompositeIndex)}
    for index in indices:
        if isinstance(index, CompositeIndex):
            out[index.name] = _composite_domains(calibration, index, items, out)
    return out


def _item_domains(calibration: Calibration, item: ItemValues) -> _Domains:
    groups, stratum, w = calibration.design.groups, calibration.design.stratum, calibration.weights
    wv = w * item.valid
    total_w = np.append(groups.sum(wv), wv.sum())
    estimate = _ratio(np.append(groups.sum(wv * item.y), (wv * item.y).sum()), total_w)
    dev_town = item.y - estimate[:-1][stratum]
    dev_county = item.y - estimate[-1]
    u_town = item.valid * _ratio(dev_town, total_w[:-1][stratum])
    u_county = item.valid * _ratio(dev_county, np.full(w.size, total_w[-1]))
    sigma2 = _ratio(np.append(groups.sum(wv * dev_town**2), (wv * dev_county**2).sum()), total_w)
    return _Domains(estimate, total_w, u_town, u_county, _counts(calibration, item.valid),
                    _kish(calibration, wv, item.valid), sigma2, _dk_rate(calibration, item.valid),
                    int((groups.sum(item.valid.astype(np.float64)) > 0).sum()), total_w > 0)


def _composite_domains(calibration: Calibration, index: CompositeIndex, items: Mapping[str, ItemValues],
                       parts: Mapping[str, _Domains]) -> _Domains:
    valid = np.zeros(calibration.weights.size, dtype=bool)
    for name, _ in index.components:
        valid |= items[name].valid
    w = calibration.weights
    comps = [(parts[name], a) for name, a in index.components]
    estimable = np.all([d.estimable & (d.n > 1) for d, _ in comps], axis=0)
    estimate = np.where(estimable, _weighted_sum([(d.estimate, a) for d, a in comps]), np.nan)
    return _Domains(
        estimate=estimate,
        weight=_by_domain(calibration, w * valid),
        u_town=_weighted_sum([(d.u_town, a) for d, a in comps]),
        u_county=_weighted_sum([(d.u_county, a) for d, a in comps]),
        n=_counts(calibration, valid),
        kish=_kish(calibration, w * valid, valid),
        sigma2=np.full(estimate.size, np.nan),
        dk_rate=_weighted_sum([(d.dk_rate, a) for d, a in comps]),
        n_strata=int((calibration.design.groups.sum(valid.astype(np.float64)) > 0).sum()),
        estimable=estimable,
    )


def _rows(period: str, index: Index, d: _Domains, variance: FloatArray, census: BoolArray,
          labels: tuple[str, ...], ci_method: str, items: Mapping[str, ItemValues]) -> list[Estimate]:
    low, high = _range(index, items)
    variance = np.maximum(variance, 0.0)
    variance[np.sqrt(variance) <= ZERO_SE * (high - low)] = 0.0  # rounding noise, e.g. all answers alike
    se = np.sqrt(variance)
    df = np.append(d.n[:-1] - 1, d.n[-1] - d.n_strata)
    ok = d.estimable & (d.n > 1) & (df > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_kish = d.n / d.kish
        n_eff = np.where(variance > 0, d.sigma2 / variance, n_kish)
        srs = (1 - d.n / d.weight) * d.sigma2 / (d.n - 1)
        deff = np.where(srs > 0, variance / srs, np.nan)
    ci = intervals(share=index.kind == "share", method=ci_method, estimate=d.estimate[ok], se=se[ok],
                   df=df[ok], n=d.n[ok], n_eff=n_eff[ok], n_kish=n_kish[ok], low=low, high=high,
                   census=census[ok])
    rows: list[Estimate] = []
    position = np.cumsum(ok) - 1
    for j, stratum in enumerate((*labels, COUNTY)):
        row = Estimate(period=period, stratum=stratum, index=index.name, kind=index.kind, n=int(d.n[j]),
                       estimate=None, se=None, ci_low=None, ci_high=None, deff=None, deff_kish=None,
                       n_eff=None, dk_rate=_number(d.dk_rate[j]), ci_method="not estimable")
        if ok[j]:
            p = position[j]
            row = replace(row, estimate=float(d.estimate[j]), se=float(se[j]), ci_low=float(ci.low[p]),
                          ci_high=float(ci.high[p]), deff=_number(deff[j]), deff_kish=float(d.kish[j]),
                          n_eff=_number(n_eff[j]), ci_method=str(ci.method[p]), df=int(df[j]))
        rows.append(row)
    return rows


def _weighted_sum(terms: list[tuple[FloatArray, float]]) -> FloatArray:
    total = np.zeros_like(terms[0][0])
    for values, weight in terms:
        total += weight * values
    return total


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _by_domain(calibration: Calibration, values: FloatArray) -> FloatArray:
    """Township sums then the county sum."""
    return np.append(calibration.design.groups.sum(values), values.sum())


def _counts(calibration: Calibration, valid: BoolArray) -> FloatArray:
    return _by_domain(calibration, valid.astype(np.float64))


def _kish(calibration: Calibration, wv: FloatArray, valid: BoolArray) -> FloatArray:
    n, total = _counts(calibration, valid), _by_domain(calibration, wv)
    kish: FloatArray = np.divide(n * _by_domain(calibration, wv * wv), total * total,
                                 out=np.full(n.size, np.nan), where=total > 0)
    return kish


def _dk_rate(calibration: Calibration, valid: BoolArray) -> FloatArray:
    w = calibration.weights
    return _ratio(_by_domain(calibration, w * ~valid), _by_domain(calibration, w))


def _range(index: Index, items: Mapping[str, ItemValues]) -> tuple[float, float]:
    if isinstance(index, CompositeIndex):
        return composite_range(index, items)
    return items[index.name].low, items[index.name].high


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
