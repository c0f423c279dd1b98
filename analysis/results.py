"""Result types shared by the analysis, the reports and the web app.

Plain frozen dataclasses so that reports and the web can depend on them without numpy.
An estimate of ``None`` means "not estimable" (0–1 valid answers in the domain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

COUNTY = "ALL"
STRATUM, GROUP, ALL = "stratum", "group", "all"  # an estimate's level: township, county, whole file


@dataclass(frozen=True)
class Estimate:
    """One index in one stratum (township code, or ``COUNTY``) and period."""

    period: str
    stratum: str
    index: str
    kind: str  # "share" (proportion 0-1) or "score" (points)
    n: int  # respondents with a valid answer to the index
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    deff: float | None  # variance ratio against SRSWOR of the same n
    deff_kish: float | None  # 1 + CV^2 of the weights of the valid answers
    n_eff: float | None
    dk_rate: float | None = None  # share of don't-know/refused among the domain's respondents
    ci_method: str = "logit"  # "logit" (shares; scores inside their range by default), "wilson", "kg", "t" (scores
    # with --score-ci t or at an end of their range), "kg-range (se=0)", "census",
    # "not estimable"
    df: int | None = None  # degrees of freedom of the t quantiles
    level: str = STRATUM  # STRATUM (a township), GROUP (e.g. a county of a province) or ALL (COUNTY)


@dataclass(frozen=True)
class Change:
    """Change of one index in one stratum between two periods (independent samples)."""

    stratum: str
    index: str
    period_from: str
    period_to: str
    change: float | None
    se: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    ci_low: float | None = None  # 95% CI of the change (t with the Satterthwaite df)
    ci_high: float | None = None
    df: float | None = None  # Satterthwaite df of the change's SE (inf: an estimate had no df)


@dataclass(frozen=True)
class Rank:
    """Rank of a township on an index, with its rank confidence set (:mod:`analysis.rank_sets`) and tier."""

    period: str
    index: str
    stratum: str
    rank: int
    rank_low: int
    rank_high: int
    tier: str  # "above" or "below" the county, or "same": not shown to differ (Holm-adjusted p >= 0.05)
    p_value: float | None = None  # unadjusted two-sided p of the difference from the county
    p_adjusted: float | None = None  # Holm-adjusted over the townships of the period and index


@dataclass(frozen=True)
class Unsampled:
    """A township of the population with no respondents in a period. The county estimates of that
    period cover the sampled townships only: they leave out ``share`` of the county's population."""

    period: str
    stratum: str
    population: float  # N_h, the township's population total (adults, as the population file gives them)
    share: float  # N_h over the county total of every township in the population file


@dataclass(frozen=True)
class SmallAreaEstimate:
    """Fay–Herriot EBLUP beside the direct estimate (never instead of it)."""

    period: str
    index: str
    stratum: str
    direct: float | None
    eblup: float
    mse: float


@dataclass(frozen=True)
class CellMerge:
    """Adjacent levels of one weighting variable merged in one township because some of them had no
    respondents or fewer than ``min_n`` (:mod:`analysis.weights.collapse`)."""

    period: str
    stratum: str
    variable: str  # e.g. "age_group"
    levels: tuple[str, ...]  # merged levels, in declared order
    respondents: tuple[int, ...]  # per level
    reasons: tuple[str | None, ...]  # per level: "empty", "thin", "adjustment", None (it was the neighbour)
    within: str = ""  # the other variables' levels, e.g. "sex=M"; "" for a raking margin
    min_n: int = 5
    whole_margin: bool = False  # a raking margin merged to one level: not calibrated on the variable

    def text(self) -> str:
        """``merged age_group 18-29+30-44 within sex=M: 18-29 had 3 respondents (fewer than 5), 30-44 had 41``"""
        why = {"thin": f" (fewer than {self.min_n})", "adjustment": " (adjustment above the maximum)"}
        parts = [f"{level} had {n or 'no'} respondent{'' if n == 1 else 's'}{why.get(r or '', '')}"
                 for level, n, r in zip(self.levels, self.respondents, self.reasons, strict=True)]
        where = f" within {self.within}" if self.within else ""
        head = (f"margin {self.variable} merged to one level; not calibrated on {self.variable}"
                if self.whole_margin else f"merged {self.variable} {'+'.join(self.levels)}{where}")
        return f"{head}: {', '.join(parts)}"


@dataclass(frozen=True)
class WeightDiagnostics:
    period: str
    stratum: str
    n: int
    min: float
    max: float
    cv: float
    deff_kish: float
    cells_collapsed: tuple[str, ...] = ()
    trimmed: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IntegrityFlag:
    """A data-integrity warning: a speeding or straight-lining respondent, or a township's jump."""

    kind: str  # "speeding", "straightlining" or "jump"
    period: str
    stratum: str
    subject: str  # respondent id, or index name for a jump
    detail: str


@dataclass(frozen=True)
class OutcomeRates:
    """AAPOR Standard Definitions outcome rates for one township (or ``COUNTY``); None = 0/0."""

    stratum: str
    counts: dict[str, float]  # I, P, R, NC, O, UH, UO, NE
    e: float | None
    rates: dict[str, float | None]  # RR1..RR6, COOP1..COOP4, REF1..REF3, CON1..CON3


_WEIGHTING = {
    "poststratify": ("design weights (township population / respondents) post-stratified to each township's "
                     "age x sex cells, thin cells merged by rule",
                     "分层设计权数（乡镇人口/样本量）按乡镇×年龄组×性别事后分层，稀疏格按规则合并"),
    "rake": ("design weights (township population / respondents) raked to each township's age and sex margins",
             "分层设计权数（乡镇人口/样本量）按各乡镇年龄、性别边际迭代加权（raking）"),
    "county": ("design weights (township population / respondents) calibrated to every township's adult "
               "population and to the county's age x sex counts",
               "分层设计权数（乡镇人口/样本量）校准到各乡镇成年人口总数和全县年龄组×性别人口"),
}
_VARIANCE = {
    "jackknife": ("standard errors from delete-one jackknife replicates, each replicate weighted again in "
                  "the same way, so that the uncertainty of the weighting itself is counted",
                  "标准误用删一刀切法（jackknife）复制权数计算，每个复制样本重新加权，计入加权本身的不确定性"),
    "linear": ("linearised standard errors that account for the calibration", "标准误用线性化方法并考虑校准"),
}
_INTERVAL = {  # (shares' interval is logit, scores' is logit) -> text; Wilson and KG intervals are not described
    (True, True): ("95% intervals: logit-transformed for percentages and for scores rescaled to their range, "
                   "t quantiles on the design degrees of freedom",
                   "95%置信区间：比例及按量程换算到0–1的得分用logit变换，t分位数取设计自由度"),
    (True, False): ("95% intervals: logit-transformed for percentages, t quantiles on the design degrees of freedom",
                    "95%置信区间：比例用logit变换，t分位数取设计自由度"),
    (False, True): ("95% intervals for scores: logit-transformed on the score rescaled to its range, t quantiles "
                    "on the design degrees of freedom",
                    "得分的95%置信区间：按量程换算到0–1后用logit变换，t分位数取设计自由度"),
}


@dataclass(frozen=True)
class AnalysisMethod:
    """How the estimates were made, for a bulletin's methods box: the weighting (``poststratify``,
    ``rake`` or ``county``), the variance (``jackknife`` or ``linear``; ``linear`` also where a
    jackknife asked for could not be used, see the log) and the intervals for shares (``ci``) and scores
    (``score_ci``: ``logit`` on the score rescaled to its range, or ``t``)."""

    weighting: str = "county"
    variance: str = "jackknife"
    ci: str = "logit"
    score_ci: str = "logit"

    def text(self, lang: str = "en") -> str:
        """One sentence per part, e.g. for reports.methods (``lang`` "en" or "zh")."""
        k = 1 if lang == "zh" else 0
        parts = [_WEIGHTING.get(self.weighting, (self.weighting,) * 2)[k],
                 _VARIANCE.get(self.variance, (self.variance,) * 2)[k]]
        interval = _INTERVAL.get((self.ci == "logit", self.score_ci == "logit"))
        if interval:
            parts.append(interval[k])
        return "；".join(parts) + "。" if k else "; ".join(parts).capitalize() + "."


@dataclass
class AnalysisResult:
    estimates: list[Estimate] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    ranks: list[Rank] = field(default_factory=list)
    small_area: list[SmallAreaEstimate] = field(default_factory=list)
    diagnostics: list[WeightDiagnostics] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    integrity: list[IntegrityFlag] = field(default_factory=list)
    outcome_rates: list[OutcomeRates] = field(default_factory=list)
    merges: list[CellMerge] = field(default_factory=list)
    unsampled: list[Unsampled] = field(default_factory=list)  # townships the county estimates leave out
    groups: dict[str, str] = field(default_factory=dict)  # each sampled township's group (--group: its county)
    method: AnalysisMethod = field(default_factory=AnalysisMethod)
