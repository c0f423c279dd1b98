"""The officials' dashboard as plain data: one index by township for one period (with the 95% CI,
the change on the previous period and the rank with its interval and tier), the county trend, and
the publication rule of the bulletin (``reports.reliability``) applied the same way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from analysis.results import COUNTY, AnalysisResult, Change, Estimate, Rank
from reports import formatting as fmt
from reports.bulletin_data import ReliabilityRule
from reports.reliability import Reliability, assess, points, published_ranks
from survey.models import Survey
from web.charts import Bar, Point, township_chart, trend_chart

RULE = ReliabilityRule()


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    estimate: Estimate | None
    reliability: Reliability
    change: Change | None
    rank: Rank | None

    @property
    def shown(self) -> str:
        return "—" if self.reliability is Reliability.SUPPRESSED else fmt.estimate(self.estimate) + (
            "※" if self.reliability is Reliability.FLAGGED else "")

    @property
    def ci(self) -> str:
        return "—" if self.reliability is Reliability.SUPPRESSED else fmt.ci(self.estimate)


@dataclass(frozen=True)
class View:
    index: str
    indices: list[tuple[str, dict[str, str]]]
    period: str
    periods: list[str]
    kind: str
    county: Row
    rows: list[Row]
    township_svg: Any
    trend_svg: Any


@cache
def _bundled_spec() -> dict[str, Any]:
    text = resources.files("survey.questionnaire").joinpath("bundled/indices.yaml").read_text("utf-8")
    return dict(YAML(typ="safe").load(text))


def index_names(survey: Survey) -> dict[str, dict[str, str]]:
    spec = survey.analysis_spec or {}
    return dict(spec.get("names") or _bundled_spec().get("names") or {})


def headline(survey: Survey) -> list[str]:
    spec = survey.analysis_spec or {}
    return list(spec.get("headline") or _bundled_spec().get("headline") or [])


def build(result: AnalysisResult, survey: Survey, index: str | None, scope: list[str] | None,
          lang: str) -> View | None:
    """None when the result holds no estimate at all."""
    if not result.estimates:
        return None
    names = index_names(survey)
    available = list(dict.fromkeys(e.index for e in result.estimates))
    preferred = [i for i in headline(survey) if i in available]
    index = index if index in available else (preferred or available)[0]
    periods = sorted({e.period for e in result.estimates if e.index == index})
    period = survey.period if survey.period in periods else periods[-1]
    by_stratum = {e.stratum: e for e in result.estimates if e.index == index and e.period == period}
    strata = {s.code: (s.name_zh if lang == "zh" else s.name_en or s.name_zh) for s in survey.strata}
    ranks = _published_ranks(result, index, period, {code: by_stratum.get(code) for code in strata})
    changes = _published_changes(result, index, period)
    county_name = "全县" if lang == "zh" else "County"

    def row(code: str, name: str) -> Row:
        est = by_stratum.get(code)
        return Row(code, name, est, assess(est, RULE), changes.get(code), ranks.get(code))

    rows = [row(code, name) for code, name in strata.items() if scope is None or code in scope]
    rows.sort(key=lambda r: (r.rank.rank if r.rank else 10_000, r.code))
    county = row(COUNTY, county_name)
    kind = next(iter(by_stratum.values())).kind if by_stratum else "share"
    label = names.get(index, {}).get(lang) or index
    return View(index=index, indices=[(i, names.get(i, {"zh": i, "en": i})) for i in available], period=period,
                periods=periods, kind=kind, county=county, rows=rows,
                township_svg=township_chart([_bar(r) for r in rows], _value(county), f"{label} {period}"),
                trend_svg=trend_chart(_trend(result, index, periods, scope), f"{label}"))


def _published_ranks(result: AnalysisResult, index: str, period: str,
                     estimates: dict[str, Estimate | None]) -> dict[str, Rank]:
    """The townships' ranks as the bulletin gives them: over the published townships only (the
    analysis ranks every township, withheld ones too), each with the analysis' test against the
    county; a withheld township has no rank and no test."""
    published = [(code, est) for code, est in estimates.items()
                 if est is not None and assess(est, RULE) is not Reliability.SUPPRESSED]
    given = [r for r in result.ranks if r.index == index and r.period == period]
    tiers = {r.stratum: r for r in given}
    ranked = published_ranks(published, given)
    return {code: replace(tiers[code], rank=rank, rank_low=low, rank_high=high) if code in tiers
            else Rank(period, index, code, rank, low, high, "same")
            for code, (rank, low, high) in ranked.items()}


def _published_changes(result: AnalysisResult, index: str, period: str) -> dict[str, Change]:
    """The changes into ``period`` whose two ends are both published: a change from or to a withheld
    estimate would let a reader work it out (``reports.reliability.published_change``)."""
    found = {(e.stratum, e.period): e for e in result.estimates if e.index == index}

    def shown(change: Change) -> bool:
        ends = (found.get((change.stratum, change.period_from)), found.get((change.stratum, period)))
        return all(assess(end, RULE) is not Reliability.SUPPRESSED for end in ends)

    return {c.stratum: c for c in result.changes if c.index == index and c.period_to == period and shown(c)}


def _value(row: Row) -> float | None:
    est = row.estimate
    if row.reliability is Reliability.SUPPRESSED or est is None or est.estimate is None:
        return None
    return points(est.estimate, est.kind)


def _bar(row: Row) -> Bar:
    est = row.estimate
    published = row.reliability is not Reliability.SUPPRESSED and est is not None
    low = points(est.ci_low, est.kind) if published and est and est.ci_low is not None else None
    high = points(est.ci_high, est.kind) if published and est and est.ci_high is not None else None
    return Bar(row.name, _value(row), low, high, row.rank.tier if row.rank else "same")


def _trend(result: AnalysisResult, index: str, periods: list[str], scope: list[str] | None) -> list[Point]:
    """The county's trend, or the township's when the user sees exactly one township."""
    stratum = scope[0] if scope and len(scope) == 1 else COUNTY
    found = {e.period: e for e in result.estimates if e.index == index and e.stratum == stratum}
    out = []
    for period in periods:
        est = found.get(period)
        if est is None or est.estimate is None or assess(est, RULE) is Reliability.SUPPRESSED:
            out.append(Point(period, None, None, None))
            continue
        low = points(est.ci_low, est.kind) if est.ci_low is not None else None
        high = points(est.ci_high, est.kind) if est.ci_high is not None else None
        out.append(Point(period, points(est.estimate, est.kind), low, high))
    return out
