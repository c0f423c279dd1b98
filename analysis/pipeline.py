"""The whole flat-file analysis from in-memory frames: weights, estimates, changes, ranks, SAE, flags.

    from analysis.pipeline import Options, run_analysis
    from analysis.spec import parse_spec
    run = run_analysis(responses_df, population_df, parse_spec(spec_dict), Options(by=("age_group", "sex")))
    run.result.estimates      # list[analysis.results.Estimate]
    run.weights               # DataFrame: id, period, stratum, weight, design_weight
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.changes import ADJUSTMENTS, changes
from analysis.errors import AnalysisError
from analysis.estimates import JACKKNIFE, LINEAR, VARIANCES, Rollup, estimate_period
from analysis.grouping import IntArray
from analysis.indices import ItemValues, all_items
from analysis.integrity import jumps, straightliners
from analysis.intervals import METHODS as CI_METHODS
from analysis.intervals import SCORE_METHODS
from analysis.population import Population
from analysis.rank_sets import FAMILIES as RANK_FAMILIES
from analysis.ranks import ranks
from analysis.responses import ResponseColumns, Responses
from analysis.results import COUNTY, AnalysisMethod, AnalysisResult, Estimate, Unsampled
from analysis.sae import small_area
from analysis.spec import Spec
from analysis.stages import Stages, unrecorded
from analysis.variance import PROJECTIONS
from analysis.weights import (
    METHODS,
    CollapseRule,
    StratifiedDesign,
    TrimRule,
    WeightingOptions,
    build_grid,
    calibrate,
    design,
)
from analysis.weights.rake import TOLERANCE


@dataclass(frozen=True)
class Options:
    """Column names as in design.md; ``by``/``method`` default to what the population file holds."""

    id_column: str = "id"
    stratum: str = "township"
    period_column: str = "wave"
    group: str | None = None  # column of each township's group (e.g. county): estimates per group too
    by: tuple[str, ...] | None = None
    method: str | None = None  # "poststratify" (cells), "rake" (margins) or "county" (analysis.weights.county)
    ci: str = "logit"  # shares' interval (analysis.intervals.METHODS)
    score_ci: str = "logit"  # scores': logit on the score rescaled to its range, or "t" (symmetric)
    variance: str = JACKKNIFE  # or LINEAR (analysis.estimates, analysis.replicates)
    projection: str = "exact"  # or "rake-sweeps" (R rake()'s variance approximation)
    collapse: CollapseRule = CollapseRule()
    trim: TrimRule = TrimRule()
    tol: float = TOLERANCE
    adjust: str = "holm"
    ranks: str = "joint"  # rank sets covering all true ranks jointly, or each township's ("marginal")
    aux: pd.DataFrame | None = field(default=None, compare=False)  # SAE covariates, index = township

    def check(self) -> None:
        for value, allowed, name in ((self.ci, CI_METHODS, "--ci"), (self.score_ci, SCORE_METHODS, "--score-ci"),
                                     (self.projection, PROJECTIONS, "projection"),
                                     (self.variance, VARIANCES, "--variance"),
                                     (self.adjust, ADJUSTMENTS, "--adjust"), (self.ranks, RANK_FAMILIES, "--ranks")):
            if value not in allowed:
                raise AnalysisError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.method is not None and self.method not in METHODS:
            raise AnalysisError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}")


@dataclass(frozen=True)
class AnalysisRun:
    result: AnalysisResult
    weights: pd.DataFrame  # id, period, stratum, weight, design_weight (N_h/n_h); one row per respondent


def run_analysis(responses: pd.DataFrame | Responses, population: pd.DataFrame | Population, spec: Spec,
                 options: Options = Options(), stages: Stages = unrecorded) -> AnalysisRun:
    options.check()
    if isinstance(population, pd.DataFrame):
        population = Population.from_frame(population, options.stratum, options.by)
    by = options.by if options.by is not None else population.by
    method = options.method or ("county" if population.kind == "cells" else "rake")
    if isinstance(responses, pd.DataFrame):
        columns = ResponseColumns(tuple(spec.questions()), by, options.id_column, options.stratum,
                                  options.period_column, options.group)
        with stages("checks"):
            responses = Responses.from_frame(responses, columns)
    result = AnalysisResult(log=list(population.notes), method=AnalysisMethod(method, options.variance, options.ci,
                                                                                options.score_ci),
                            groups=_groups(responses))
    variance = options.variance
    if options.trim.active and variance == JACKKNIFE:
        variance = LINEAR
        result.log.append("trimmed weights: linearised variance (the jackknife replicates are not trimmed)")
    result.method = replace(result.method, variance=variance)
    if method != "poststratify":
        result.log += population.margin_targets().log
    elif options.trim.active:
        result.log.append("trimming caps apply to townships raked to their margins; post-strata are bounded "
                          "by the collapse rule's largest adjustment instead")
    totals = population.margin_targets().totals
    codes = _level_codes(responses, population, by)
    items = all_items(spec.indices, responses)
    weights, design_weights = np.zeros(len(responses)), np.zeros(len(responses))
    periods = responses.period.uniques.tolist()  # in time order
    se_vs_county: dict[tuple[str, str, str], float] = {}
    for position, period in enumerate(periods):
        in_period = responses.period.codes == position
        with stages("weights"):
            rows = _rows_by_cell(np.flatnonzero(in_period), responses, codes, population, by)
            plan = design(responses.stratum.codes[rows], responses.stratum.uniques, totals,
                          period if len(periods) > 1 else "")
            grid = build_grid(plan.stratum, plan.labels, by, tuple(population.levels[v] for v in by),
                              tuple(c[rows] for c in codes))
            weighting = WeightingOptions(method, options.collapse, options.trim, options.tol)
            calibration = calibrate(plan, grid, population, weighting, period if len(periods) > 1 else "")
        weights[rows], design_weights[rows] = calibration.weights, plan.base
        result.diagnostics += calibration.diagnostics
        result.log += calibration.log
        result.merges += calibration.merges
        with stages("estimates"):
            found = estimate_period(period, calibration, _take(items, rows), spec.indices, options.ci,
                                    options.projection, _rollup(responses, rows, plan, options.group),
                                    variance, options.score_ci)
            if found.variance != variance:
                result.method = replace(result.method, variance=LINEAR)
                result.log.append(f"period {period}: {found.note}")
            result.estimates += found.estimates + _unsampled(period, plan.labels, totals, spec, result)
        se_vs_county.update({(period, i, t): se for (i, t), se in found.se_vs_county.items()})
        if spec.integrity.straightlining:
            battery = {q: responses.answers[q][rows] for q in spec.integrity.straightlining}
            result.integrity += straightliners(responses.ids[rows].tolist(),
                                               responses.stratum.values[rows].tolist(), battery, period)
    with stages("changes"):
        result.changes = changes(result.estimates, periods, options.adjust)
    with stages("ranks"):
        result.ranks = ranks(result.estimates, se_vs_county, options.ranks)
    with stages("small-area"):
        result.small_area, sae_log = small_area(result.estimates, options.aux)
    result.log += sae_log
    result.integrity += jumps(result.changes, spec.integrity.jump_z)
    result.flags += _flag_lines(result)
    frame = pd.DataFrame({"id": responses.ids, "period": responses.period.values,
                          "stratum": responses.stratum.values, "weight": weights, "design_weight": design_weights})
    return AnalysisRun(result, frame)


def _level_codes(responses: Responses, population: Population, by: tuple[str, ...]) -> tuple[IntArray, ...]:
    """Each row's level index on every weighting variable, in the declared level order (analysis.population.level_order)."""
    out = []
    for variable in by:
        levels = population.levels[variable]
        labels = responses.by[variable]
        index = pd.Index(levels).get_indexer(labels.uniques)[labels.codes]
        if (index < 0).any():
            position = int(np.flatnonzero(index < 0)[0])
            raise responses.error(position, f"{labels.values[position]!r} is not a level of {variable} in the "
                                  f"population ({', '.join(levels)})", column=variable)
        out.append(index.astype(np.intp))
    return tuple(out)


def _rows_by_cell(rows: IntArray, responses: Responses, codes: tuple[IntArray, ...], population: Population,
                  by: tuple[str, ...]) -> IntArray:
    """The period's rows ordered by township, then weighting cell, so group sums are contiguous."""
    town = responses.stratum.codes[rows]
    shape = tuple(len(population.levels[v]) for v in by)
    within = np.ravel_multi_index(tuple(c[rows] for c in codes), shape) if by else np.zeros(rows.size, int)
    return rows[np.lexsort((within, town))]


def _rollup(responses: Responses, rows: IntArray, plan: StratifiedDesign, name: str | None) -> Rollup:
    """The groups of the period's townships; their rows are labelled ``name:group``."""
    if responses.group is None:
        return Rollup()
    per_town = np.zeros(len(plan.labels), dtype=np.intp)
    per_town[plan.stratum] = responses.group.codes[rows]
    present, group_of = np.unique(per_town, return_inverse=True)
    prefix = name or "group"
    return Rollup(group_of.astype(np.intp), tuple(f"{prefix}:{g}" for g in responses.group.uniques[present]))


def _groups(responses: Responses) -> dict[str, str]:
    """Each township's group (Responses checked that it has one), from its first row."""
    if responses.group is None:
        return {}
    present, first = np.unique(responses.stratum.codes, return_index=True)
    groups = responses.group.uniques[responses.group.codes[first]]
    return dict(zip(responses.stratum.uniques[present].tolist(), groups.tolist(), strict=True))


def _take(items: dict[str, ItemValues], rows: IntArray) -> dict[str, ItemValues]:
    return {k: ItemValues(v.y[rows], v.valid[rows], v.low, v.high) for k, v in items.items()}


def _unsampled(period: str, sampled: tuple[str, ...], totals: dict[str, float], spec: Spec,
               result: AnalysisResult) -> list[Estimate]:
    """Not-estimable rows for townships of the population (``totals``: N_h) without respondents in this
    period, each recorded in ``result.unsampled`` with its share of the population."""
    present = set(sampled)
    missing = [t for t in totals if t not in present]
    if not missing:
        return []
    county = sum(totals.values())
    left_out = [Unsampled(period, t, totals[t], totals[t] / county if county else 0.0) for t in missing]
    result.unsampled += left_out
    result.log.append(f"period {period}: no respondents in {', '.join(missing)}; the county estimates "
                      f"cover the sampled townships only ({_percent(1 - sum(u.share for u in left_out))} "
                      "of the population)")
    return [Estimate(period=period, stratum=t, index=i.name, kind=i.kind, n=0, estimate=None, se=None,
                     ci_low=None, ci_high=None, deff=None, deff_kish=None, n_eff=None,
                     ci_method="not estimable") for t in missing for i in spec.indices]


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def _flag_lines(result: AnalysisResult) -> list[str]:
    lines = [f"period {f.period}, township {f.stratum}: {f.detail}" for f in result.integrity if f.kind == "jump"]
    liners = [f for f in result.integrity if f.kind == "straightlining"]
    if liners:
        lines.append(f"{len(liners)} respondents gave one answer to every item of the straight-lining battery")
    lines += [f"period {e.period}: {e.index} not estimable in {e.stratum} (n={e.n})"
              for e in result.estimates if e.estimate is None and e.stratum != COUNTY]
    return lines
