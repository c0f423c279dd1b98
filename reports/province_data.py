"""What a provincial bulletin and a county's bulletin show, from one analysis of the province.

``minyi analyze --group county`` estimates every township, every county (strata ``county:CODE``,
level ``group``) and the province (``ALL``); it ranks the counties among the counties and tests each
against the province, and ranks the townships among all the province's townships. A county's bulletin
ranks its own townships again among themselves (:func:`reports.reliability.rerank`: the analysis' rank
sets over just those townships) and keeps the analysis' test of each township against the province.
The publication rule (:mod:`reports.reliability`) is applied before anything is ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from analysis.results import COUNTY, GROUP, STRATUM, AnalysisMethod, AnalysisResult, Change, Estimate, Rank
from reports.analysis_file import AnalysisContentError, Areas, BulletinInputError, IndexNames
from reports.bulletin_data import IndexKind, Lang, ReliabilityRule, Text
from reports.i18n import unit_suffix
from reports.reliability import Reliability, assess, published_ranks

Scope = Literal["province", "county"]


@dataclass(frozen=True)
class Index:
    id: str
    name: Text
    kind: IndexKind

    def label(self, lang: Lang) -> str:
        """The name with its unit, e.g. ``群众安全感（%）``."""
        return self.name.get(lang) + unit_suffix(self.kind, lang)


@dataclass(frozen=True)
class Row:
    """A county of the province or a township of a county, on one index."""

    code: str  # as the analysis names it: a township code, or ``county:CODE``
    name: Text
    estimate: Estimate | None
    reliability: Reliability
    rank: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    tier: str | None = None  # against the province: "above", "below" or "same" (not shown to differ)
    change: Change | None = None  # since the previous period, when both ends are published
    partial: bool = False  # a county estimate that leaves out townships without respondents (†)
    sampled: bool = True  # False: a township without respondents


@dataclass(frozen=True)
class Place:
    """A county's place among the province's counties on one index."""

    rank: int
    low: int
    high: int
    of: int
    tier: str | None


@dataclass(frozen=True, eq=False)
class AreaReport:
    """One bulletin: the province with its counties, or a county with its townships."""

    scope: Scope
    name: Text  # 全省, or the county's name
    period: str
    previous: str | None
    indices: tuple[Index, ...]
    whole: Mapping[str, Estimate]  # index -> the area's own estimate
    whole_change: Mapping[str, Change]
    rows: Mapping[str, tuple[Row, ...]]  # index -> published rows by rank, then withheld, then unsampled
    method: AnalysisMethod
    respondents: int
    units: int  # counties of the province, or townships of the county (sampled or not)
    townships: int  # of the area, sampled or not
    left_out: tuple[str, ...] = ()  # codes of the townships without respondents in the area
    left_out_share: float = 0.0  # the province's: of its adult population
    left_out_population: float = 0.0  # a county's: adults in those townships
    place: Mapping[str, Place] = field(default_factory=dict)  # a county's place among the counties
    rule: ReliabilityRule = field(default_factory=ReliabilityRule)
    names: Mapping[str, Text] = field(default_factory=dict)

    def name_of(self, code: str, lang: Lang) -> str:
        name = self.names.get(code)
        return name.get(lang) if name else code


PROVINCE_NAME = Text("全省", "The province")


@dataclass(frozen=True)
class Analysis:
    """The current period's rows of one analysis, looked up by (stratum, index)."""

    result: AnalysisResult
    period: str
    previous: str | None
    estimates: Mapping[tuple[str, str], Estimate]
    ranks: Mapping[tuple[str, str], Rank]
    changes: Mapping[tuple[str, str], Change]
    earlier: Mapping[tuple[str, str], Estimate]  # the previous period's

    @classmethod
    def of(cls, result: AnalysisResult) -> Analysis:
        periods = list(dict.fromkeys(e.period for e in result.estimates))
        if not periods:
            raise AnalysisContentError("it has no estimates")
        period = periods[-1]
        if not any(e.level == GROUP for e in result.estimates if e.period == period):
            raise AnalysisContentError("it has no county estimates: run `minyi analyze ... --group county "
                                       "--json FILE` (the column naming each township's county)")
        previous = periods[-2] if len(periods) > 1 else None
        return cls(result, period, previous,
                   {(e.stratum, e.index): e for e in result.estimates if e.period == period},
                   {(r.stratum, r.index): r for r in result.ranks if r.period == period},
                   {(c.stratum, c.index): c for c in result.changes
                    if c.period_to == period and c.period_from == previous},
                   {(e.stratum, e.index): e for e in result.estimates if e.period == previous})

    def codes(self, level: str) -> list[str]:
        return sorted({s for (s, _), e in self.estimates.items() if e.level == level and s != COUNTY})

    def respondents(self, townships: list[str]) -> int:
        wanted = set(townships)
        return sum(d.n for d in self.result.diagnostics
                   if d.stratum in wanted and d.period in (self.period, ""))


def indices(result: AnalysisResult, names: IndexNames | None) -> tuple[Index, ...]:
    """The headline indices of the spec file in its order, else every index of the analysis."""
    kinds = {e.index: e.kind for e in result.estimates}
    chosen = [i for i in (names.headline if names else ()) if i in kinds] or list(kinds)
    given = names.names if names else {}
    return tuple(Index(i, given.get(i) or Text(i, i), "share" if kinds[i] == "share" else "score") for i in chosen)


def county_code(stratum: str) -> str:
    """``county:C001`` -> ``C001``."""
    return stratum.partition(":")[2]


def province_report(result: AnalysisResult, areas: Areas | None, shown: tuple[Index, ...],
                    rule: ReliabilityRule = ReliabilityRule()) -> AreaReport:
    """The provincial bulletin: the province's estimates and every county ranked."""
    a = Analysis.of(result)
    counties = a.codes(GROUP)
    if areas is not None:
        _check_areas(a, areas)
    unsampled = [u for u in result.unsampled if u.period in (a.period, "")]
    partial = {areas.county_of.get(u.stratum, "") for u in unsampled} if areas else set()
    rows = {i.id: _ranked(a, i.id, counties, rule, lambda code: _county_name(code, areas),
                          partial={c for c in counties if county_code(c) in partial}, reuse=True) for i in shown}
    names = {c: _county_name(c, areas) for c in counties} | {u.stratum: _area_name(u.stratum, areas)
                                                              for u in unsampled}
    return AreaReport(
        "province", PROVINCE_NAME, a.period, a.previous, shown,
        whole={i.id: e for i in shown if (e := a.estimates.get((COUNTY, i.id)))},
        whole_change={i.id: c for i in shown if (c := a.changes.get((COUNTY, i.id)))},
        rows=rows, method=result.method,
        respondents=a.respondents(a.codes(STRATUM)) or max((e.n for (s, _), e in a.estimates.items() if s == COUNTY),
                                                        default=0),
        units=len(counties), townships=len(set(a.codes(STRATUM)) | {u.stratum for u in unsampled}),
        left_out=tuple(u.stratum for u in unsampled),
        left_out_share=sum(u.share for u in unsampled), rule=rule, names=names)


def county_reports(result: AnalysisResult, areas: Areas, shown: tuple[Index, ...], wanted: list[str] | None = None,
                   rule: ReliabilityRule = ReliabilityRule()) -> list[tuple[str, AreaReport]]:
    """A bulletin for each county (or each of ``wanted``, county codes as the areas file gives them), with
    its code."""
    a = Analysis.of(result)
    counties = {county_code(c): c for c in a.codes(GROUP)}
    unknown = [c for c in wanted or [] if c not in counties]
    if unknown:
        raise BulletinInputError(f"no county {', '.join(unknown)} in the analysis (it has "
                                 f"{', '.join(list(counties)[:5])}{', ...' if len(counties) > 5 else ''})")
    province = province_report(result, areas, shown, rule)
    return [(code, _county_report(a, areas, code, counties[code], province, rule)) for code in wanted or counties]


def _check_areas(a: Analysis, areas: Areas) -> None:
    """The areas file names every township of the analysis, each in the county the analysis put it in,
    and no county the analysis did not estimate: else a county bulletin would leave out a township that
    its county's estimate counts, or the provincial bulletin pass over a county without a word."""
    stray = next((t for t in a.codes(STRATUM) if t not in areas.county_of), None)
    if stray is not None:
        raise BulletinInputError(f"{areas.source}: township {stray} of the analysis is not in the areas file: each "
                                 "township needs its county there")
    counties = [county_code(c) for c in a.codes(GROUP)]
    for town, county in areas.county_of.items():
        analysed = a.result.groups.get(town, county)
        if analysed != county:
            raise BulletinInputError(f"{areas.where(town)}: township {town} is in county {county} here but in "
                                     f"{analysed} in the analysis")
        if county not in counties:
            raise BulletinInputError(f"{areas.where(town)}: county {county} is not in the analysis (it has "
                                     f"{', '.join(counties[:5])}{', ...' if len(counties) > 5 else ''})")


def _county_report(a: Analysis, areas: Areas, code: str, stratum: str, province: AreaReport,
                   rule: ReliabilityRule) -> AreaReport:
    towns = sorted(t for t, c in areas.county_of.items() if c == code)
    empty = {u.stratum: u for u in a.result.unsampled if u.period in (a.period, "") and u.stratum in set(towns)}
    sampled = [t for t in towns if t not in empty]
    missing = [t for t in sampled if not any((t, i.id) in a.estimates for i in province.indices)]
    if missing:
        raise BulletinInputError(f"county {code}: township {missing[0]} of the areas file is not in the analysis "
                                 "(neither estimated nor listed as unsampled)")
    rows = {i.id: _ranked(a, i.id, sampled, rule, areas.name, unsampled=list(empty)) for i in province.indices}
    return AreaReport(
        "county", areas.name(code), a.period, a.previous, province.indices,
        whole={i.id: e for i in province.indices if (e := a.estimates.get((stratum, i.id)))},
        whole_change={i.id: c for i in province.indices if (c := a.changes.get((stratum, i.id)))},
        rows=rows, method=a.result.method, respondents=a.respondents(sampled),
        units=len(towns), townships=len(towns), left_out=tuple(empty), left_out_population=sum(u.population for u in empty.values()),
        place={i.id: p for i in province.indices if (p := _place(province, i.id, stratum))}, rule=rule,
        names={t: areas.name(t) for t in towns})


def _place(province: AreaReport, index: str, stratum: str) -> Place | None:
    published = [r for r in province.rows[index] if r.rank is not None]
    row = next((r for r in published if r.code == stratum), None)
    if row is None or row.rank is None or row.rank_low is None or row.rank_high is None:
        return None
    return Place(row.rank, row.rank_low, row.rank_high, len(published), row.tier)


def _ranked(a: Analysis, index: str, codes: list[str], rule: ReliabilityRule, name: Callable[[str], Text],
            partial: Collection[str] = (), reuse: bool = False, unsampled: Sequence[str] = ()) -> tuple[Row, ...]:
    """Published rows by rank (the analysis' ranks when ``reuse`` and it ranked exactly these, else ranked
    among themselves), then the withheld ones and the townships without respondents by code."""
    assessed = [(c, e, assess(e, rule)) for c in codes for e in (a.estimates.get((c, index)),)]
    published = [(c, e) for c, e, rel in assessed if e is not None and rel is not Reliability.SUPPRESSED]
    given = [r for c in codes if (r := a.ranks.get((c, index)))] if reuse else []
    ranks = published_ranks(published, given)
    rows = [Row(c, name(c), e, rel, *ranks[c], tier=_tier(a, c, index), change=_change(a, c, index, rule),
                partial=c in partial)
            for c, e, rel in assessed if rel is not Reliability.SUPPRESSED]
    rows.sort(key=lambda r: (r.rank or 0, r.code))
    withheld = [Row(c, name(c), e, rel, partial=c in partial) for c, e, rel in assessed
                if rel is Reliability.SUPPRESSED]
    empty = [Row(t, name(t), None, Reliability.SUPPRESSED, sampled=False) for t in sorted(unsampled)]
    return (*rows, *withheld, *empty)


def _tier(a: Analysis, code: str, index: str) -> str | None:
    rank = a.ranks.get((code, index))
    return rank.tier if rank else None


def _change(a: Analysis, code: str, index: str, rule: ReliabilityRule) -> Change | None:
    """The change since the previous period, unless either end is withheld (reports.reliability)."""
    change = a.changes.get((code, index))
    if change is None or assess(a.earlier.get((code, index)), rule) is Reliability.SUPPRESSED:
        return None
    return change


def _county_name(stratum: str, areas: Areas | None) -> Text:
    code = county_code(stratum)
    return areas.name(code) if areas else Text(code, code)


def _area_name(code: str, areas: Areas | None) -> Text:
    return areas.name(code) if areas else Text(code, code)
