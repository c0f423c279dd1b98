"""Everything one issue of the bulletin shows, as plain dataclasses.

The database side fills a :class:`BulletinData`; the renderer never touches Flask or SQLAlchemy.
Estimates, changes and ranks are the analysis package's own result types. Shares are
proportions (0–1) and scores are points (0–100), as the analysis produces them; the renderer
converts shares to percentages for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Literal

from analysis.results import COUNTY, CellMerge, Change, Estimate, Rank, Unsampled

Lang = Literal["zh", "en"]
IndexKind = Literal["share", "score"]

#: The handling stages of a resident's concern, in workflow order.
STATUSES: tuple[str, ...] = ("accepted", "assigned", "in_progress", "closed", "revisited")
#: Stages at which a concern counts as closed (办结).
CLOSED_STATUSES: frozenset[str] = frozenset({"closed", "revisited"})


@dataclass(frozen=True)
class Text:
    """A piece of text the centre writes once in each language."""

    zh: str
    en: str

    def get(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class IndexDefinition:
    """One published index, e.g. 公众安全感 (share) or 政法机关执法满意度 (score)."""

    id: str
    name: Text
    kind: IndexKind
    construction: Text  # how answers map to the index, and what happens to don't-know
    question: Text  # exact wording as read to the respondent, with the answer options


@dataclass(frozen=True)
class Township:
    code: str
    name: Text


@dataclass(frozen=True)
class Periods:
    """Period ids as they appear in ``Estimate.period``, and their printed labels."""

    current: str
    labels: Mapping[str, Text]
    previous: str | None = None
    last_year: str | None = None  # the same period one year earlier
    trend: tuple[str, ...] = ()  # oldest first, ending with the current period

    def label(self, period: str, lang: Lang) -> str:
        text = self.labels.get(period)
        return text.get(lang) if text else period


@dataclass(frozen=True)
class Dispositions:
    """Final AAPOR disposition counts of the period's sample (Standard Definitions, 10th ed.)."""

    complete: int  # I
    partial: int  # P
    refusal_breakoff: int  # R
    non_contact: int  # NC
    other: int  # O
    unknown_household: int  # UH
    unknown_respondent: int  # UR
    unknown_other: int  # UO
    not_eligible: int  # NE
    e: float  # estimated eligible share of the unknown-eligibility cases

    @property
    def unknown(self) -> int:
        return self.unknown_household + self.unknown_respondent + self.unknown_other

    @property
    def _known_eligible(self) -> int:
        return self.complete + self.partial + self.refusal_breakoff + self.non_contact + self.other

    @property
    def rr1(self) -> float:
        denominator = self._known_eligible + self.unknown
        return self.complete / denominator if denominator else 0.0

    @property
    def rr3(self) -> float:
        denominator = self._known_eligible + self.e * self.unknown
        return self.complete / denominator if denominator else 0.0


Hours = tuple[tuple[int, int], ...]  # local time-of-day ranges in minutes after midnight, end <= 1440


@dataclass(frozen=True)
class CallingHours:
    """The calling windows as the survey's fieldwork settings configure them, in local wall time of
    ``timezone`` (dialer.policy): Monday–Friday, Saturday–Sunday, and any weekday with its own hours."""

    weekday: Hours
    weekend: Hours
    days: Mapping[int, Hours] = field(default_factory=dict)  # 0 = Monday … 6 = Sunday
    timezone: str = "Asia/Shanghai"
    holidays: int = 0  # dates of the field period on which no call was made


@dataclass(frozen=True)
class Fieldwork:
    """What the methods box (调查说明) states about how the data were collected and weighted."""

    sponsor: Text
    organisation: Text
    population: Text
    frame: Text  # the sampling frame and its coverage gaps
    start: date
    end: date
    calling_hours: CallingHours
    completes_by_mode: Mapping[str, int]  # "IVR" / "CATI" -> completed interviews
    completes_by_township: Mapping[str, int]
    dispositions: Dispositions
    weighting_targets: Text  # must name the source of the counts: resident (常住) adults, never 户籍
    weighting_method: Text
    significance_rule: Text
    limitations: Text
    weight_deff_kish: float | None = None  # county Kish design effect of the final weights


@dataclass(frozen=True)
class ConcernCell:
    """Concerns sharing a category, township, responsible unit and current status.

    Only counts: the renderer never sees a name, a phone number or the text of a concern.
    """

    category: str
    township: str
    unit: str
    status: str  # one of STATUSES
    count: int
    on_time: int = 0  # of ``count``, closed within the deadline (closed statuses only)
    satisfied: int = 0  # of ``count``, satisfied with the handling when called back (revisited only)


@dataclass(frozen=True)
class Concerns:
    """Residents' concerns (群众反映问题) raised in the period, aggregated."""

    cells: tuple[ConcernCell, ...]
    categories: Mapping[str, Text]
    units: Mapping[str, Text]


@dataclass(frozen=True)
class Benchmark:
    """A figure published by someone else (e.g. the province) for this county."""

    index: str
    source: Text
    period: Text
    value: float  # same scale as the index: proportion for shares, points for scores
    rank: int | None = None
    of_counties: int | None = None


@dataclass(frozen=True)
class ReliabilityRule:
    """When an estimate is withheld (—) or flagged (※). Applied before ranking."""

    min_n: int = 30
    min_n_eff: float = 30.0
    flag_n_below: int = 60
    flag_half_width_points: float = 10.0


@dataclass(frozen=True)
class BuildStamp:
    data_snapshot: datetime  # naive UTC, as the clock gives it; printed in the centre's time zone
    software_version: str
    build_id: str = ""


@dataclass(frozen=True, eq=False)
class BulletinData:
    """One issue. Compared (and hashed) by identity, so derived tables can be cached per issue."""

    centre: Text
    title: Text
    issue: int
    periods: Periods
    release_date: date
    indices: tuple[IndexDefinition, ...]
    townships: tuple[Township, ...]
    estimates: tuple[Estimate, ...]
    fieldwork: Fieldwork
    build: BuildStamp
    changes: tuple[Change, ...] = ()
    ranks: tuple[Rank, ...] = ()
    concerns: Concerns | None = None
    benchmarks: tuple[Benchmark, ...] = ()
    languages: tuple[Lang, ...] = ("zh",)
    next_release: date | None = None
    contact: Text | None = None
    rule: ReliabilityRule = field(default_factory=ReliabilityRule)
    merges: tuple[CellMerge, ...] = ()  # weighting cells merged in the current period
    items: tuple[IndexDefinition, ...] = ()  # further indices (e.g. satisfaction items): headline table and
    # main points only, no township section
    unsampled: tuple[Unsampled, ...] = ()  # townships without respondents, left out of the county estimates
    timezone: str = "Asia/Shanghai"  # the centre's: every date and time printed is in it
    cell_labels: Mapping[tuple[str, str], Text] = field(default_factory=dict)  # (weighting variable, level) and
    # (variable, "") for the variable itself: the questionnaire's labels, for the merged cells

    def __post_init__(self) -> None:
        defined = {index.id for index in (*self.indices, *self.items)}
        unknown = sorted({b.index for b in self.benchmarks} - defined)
        if unknown:
            raise ValueError(f"benchmarks for undefined indices: {', '.join(unknown)}")
        if not set(self.languages) <= {"zh", "en"}:
            raise ValueError(f"bulletins are made in zh and en, not {self.languages}")

    @cached_property
    def _estimates(self) -> dict[tuple[str, str, str], Estimate]:
        return {(e.period, e.stratum, e.index): e for e in self.estimates}

    @cached_property
    def _changes(self) -> dict[tuple[str, str, str, str], Change]:
        return {(c.period_from, c.period_to, c.stratum, c.index): c for c in self.changes}

    @cached_property
    def _names(self) -> dict[str, Text]:
        return {t.code: t.name for t in self.townships}

    def estimate(self, index: str, stratum: str = COUNTY, period: str | None = None) -> Estimate | None:
        return self._estimates.get((period or self.periods.current, stratum, index))

    def change(self, index: str, since: str | None, stratum: str = COUNTY) -> Change | None:
        """The change from period ``since`` to the current period, if the analysis gave one."""
        if since is None:
            return None
        return self._changes.get((since, self.periods.current, stratum, index))

    def ranks_for(self, index: str) -> list[Rank]:
        return [r for r in self.ranks if r.index == index and r.period == self.periods.current]

    def rank_for(self, index: str, stratum: str) -> Rank | None:
        """The analysis' rank and test against the county of one township in the current period."""
        return next((r for r in self.ranks_for(index) if r.stratum == stratum), None)

    @property
    def left_out(self) -> list[Unsampled]:
        """Townships the current period's county estimates leave out (no respondents)."""
        return [u for u in self.unsampled if u.period in (self.periods.current, "")]

    def cell_label(self, variable: str, level: str, lang: Lang) -> str:
        """A weighting level (level "": the variable itself) as the questionnaire labels it, else as written."""
        label = self.cell_labels.get((variable, level))
        return label.get(lang) if label else level

    def township_name(self, code: str, lang: Lang) -> str:
        name = self._names.get(code)
        return name.get(lang) if name else code
