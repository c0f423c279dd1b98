"""Filling a :class:`BulletinData` from a survey round in the database.

Everything the bulletin states is computed here from stored rows: estimates (reports.results),
dispositions, fieldwork dates and modes, concerns, outside benchmarks. The wording of the methods
box is the centre's standard text with the survey's own figures put in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.results import COUNTY, AnalysisMethod, AnalysisResult, OutcomeRates
from analysis.spec import CompositeIndex, ScoreIndex, ShareIndex
from dialer.windows import TimeRange
from office.concerns import CATEGORIES
from reports import bulletin_data as bd
from reports.dispositions import survey_rates
from reports.formatting import period_label
from reports.i18n import LABELS
from reports.results import analyse, bundled_analysis_spec, index_spec
from survey.clock import Clock, to_local
from survey.config import Settings
from survey.models import Benchmark as BenchmarkRow
from survey.models import CallAttempt, Case, Concern, Interview, Stratum, Survey, Unit
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm
from survey.surveys import survey_questionnaire
from survey.vocabulary import ConcernStatus, InterviewStatus

MODE_NAMES = {"ivr": "IVR", "cati": "CATI", "f2f": "F2F"}
CONCERN_STATUS: dict[str, str] = {ConcernStatus.RECEIVED: "accepted", ConcernStatus.ASSIGNED: "assigned",
                  ConcernStatus.IN_PROGRESS: "in_progress", ConcernStatus.RESOLVED: "closed",
                  ConcernStatus.REVISITED: "revisited"}


def bulletin_data(session: Session, survey: Survey, clock: Clock, settings: Settings, *,
                  languages: tuple[bd.Lang, ...] = ("zh",),
                  analysis: AnalysisResult | None = None, periods: list[str] | None = None) -> bd.BulletinData:
    """The bulletin of ``survey``'s period (``analysis`` may be passed in when already computed)."""
    if analysis is None or periods is None:
        done = analyse(session, survey)
        analysis, periods = done.run.result, done.periods
    questionnaire = survey_questionnaire(survey)
    rates = {r.stratum: r for r in survey_rates(session, survey)}
    county_deff = next((d.deff_kish for d in analysis.diagnostics
                        if d.stratum == COUNTY and d.period in (survey.period, "")), None)
    zone = settings.centre_timezone
    headline, items = _indices(survey, questionnaire)
    return bd.BulletinData(
        centre=bd.Text(settings.centre_name, settings.centre_name_en),
        title=bd.Text(qm.text_in(questionnaire.title, "zh") + "通报", qm.text_in(questionnaire.title, "en") + " bulletin"),
        issue=survey.issue_no or len(periods),
        periods=_periods(survey.period, periods),
        release_date=to_local(clock.now(), zone).date(),
        indices=headline, items=items, unsampled=tuple(analysis.unsampled), timezone=zone,
        townships=tuple(bd.Township(s.code, bd.Text(s.name_zh, s.name_en or s.code)) for s in survey.strata),
        estimates=tuple(analysis.estimates), changes=tuple(analysis.changes), ranks=tuple(analysis.ranks),
        fieldwork=_fieldwork(session, survey, rates.get(COUNTY), county_deff, settings, clock, analysis.method),
        build=bd.BuildStamp(clock.now(), _version()),
        concerns=_concerns(session, survey),
        benchmarks=_benchmarks(session, survey),
        languages=languages,
        merges=tuple(m for m in analysis.merges if m.period in (survey.period, "")),
        cell_labels=_cell_labels(questionnaire, {m.variable for m in analysis.merges}),
    )


def _cell_labels(q: Questionnaire, variables: set[str]) -> dict[tuple[str, str], bd.Text]:
    """The merged cells' variables and levels as the questionnaire labels them, for a round weighted by
    its own questions (a population file's margins name question ids and answer codes)."""
    labels: dict[tuple[str, str], bd.Text] = {}
    for question in (x for x in q.questions if x.id in variables):
        if question.label:
            labels[(question.id, "")] = bd.Text(qm.text_in(question.label, "zh"), qm.text_in(question.label, "en"))
        for choice in question.choices:
            labels[(question.id, str(choice.code))] = bd.Text(qm.text_in(choice.label, "zh"),
                                                               qm.text_in(choice.label, "en"))
    return labels


def _version() -> str:
    try:
        return version("minyi")
    except PackageNotFoundError:
        return "dev"


def _periods(current: str, periods: list[str]) -> bd.Periods:
    earlier = [p for p in periods if p < current]
    year_ago = re.sub(r"^(\d{4})", lambda m: str(int(m[1]) - 1), current)
    return bd.Periods(current=current, labels={p: period_label(p) for p in periods},
                      previous=earlier[-1] if earlier else None,
                      last_year=year_ago if year_ago in periods else None,
                      trend=tuple(periods[-12:]))


def _indices(survey: Survey, q: Questionnaire) -> tuple[tuple[bd.IndexDefinition, ...], tuple[bd.IndexDefinition, ...]]:
    """The headline indices (a township section each), in the ``headline`` order, and the other share
    indices of single questions (the satisfaction items: headline table and main points)."""
    spec = index_spec(survey)
    extra = _presentation(survey)
    shown = extra.get("headline") or [i.name for i in spec.indices]
    names = extra.get("names", {})
    headline: list[bd.IndexDefinition] = []
    items: list[bd.IndexDefinition] = []
    for index in spec.indices:
        if index.name not in shown and not isinstance(index, ShareIndex):
            continue  # a score or a composite: shown when the headline names it
        name = _name(names, index.name)
        if isinstance(index, CompositeIndex):
            definition = bd.IndexDefinition(id=index.name, name=name, kind="share" if index.kind == "share" else "score",
                                            construction=_composite(index, names), question=bd.Text("", ""))
        else:
            question = q.question(index.question)
            definition = bd.IndexDefinition(id=index.name, name=name, kind="share" if isinstance(index, ShareIndex)
                                            else "score", construction=_construction(index, question),
                                            question=_wording(question))
        (headline if index.name in shown else items).append(definition)
    return tuple(sorted(headline, key=lambda d: shown.index(d.id))), tuple(items)


def _name(names: dict[str, Any], index: str) -> bd.Text:
    name = names.get(index, {})
    return bd.Text(name.get("zh", index), name.get("en", index))


def _composite(index: CompositeIndex, names: dict[str, Any]) -> bd.Text:
    """A composite's construction: its components by name, with their weights."""
    parts = [(_name(names, component), weight) for component, weight in index.components]
    return bd.Text("、".join(f"{n.zh}（权重 {w:.0%}）" for n, w in parts) + "的加权和。",
                   "Weighted sum of " + ", ".join(f"{n.en} ({w:.0%})" for n, w in parts) + ".")


def _presentation(survey: Survey) -> dict[str, Any]:
    """``headline``, ``names`` and ``population_source`` of the survey's index definitions (the bundled
    ones for a round of the bundled questionnaire stored without them)."""
    stored = survey.analysis_spec or {}
    return stored if "indices" in stored else bundled_analysis_spec()


def _labels(question: qm.Question, codes: frozenset[float], lang: str) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(qm.text_in(c.label, lang) for c in question.choices if c.code in codes)


def _construction(index: ShareIndex | ScoreIndex, question: qm.Question) -> bd.Text:
    """How the index is made, naming the answers it leaves out as the questionnaire labels them."""
    ex_zh, ex_en = _labels(question, index.exclude, "zh"), _labels(question, index.exclude, "en")
    if isinstance(index, ShareIndex):
        fav_zh, fav_en = _labels(question, index.favourable, "zh"), _labels(question, index.favourable, "en")
        return bd.Text(f"回答“{fav_zh}”的加权比例" + (f"；“{ex_zh}”不计入分母。" if ex_zh else "。"),
                       f"Weighted share answering {fav_en}" + (f"; {ex_en} left out of the base." if ex_en else "."))
    scores = index.scores
    zh = "，".join(f"{qm.text_in(c.label, 'zh')}{scores[c.code]:g}分" for c in question.choices if c.code in scores)
    en = ", ".join(f"{qm.text_in(c.label, 'en')} {scores[c.code]:g}" for c in question.choices if c.code in scores)
    return bd.Text(f"加权平均得分（{zh}）" + (f"；“{ex_zh}”不计分。" if ex_zh else "。"),
                   f"Weighted mean score ({en})" + (f"; {ex_en} not scored." if ex_en else "."))


def _wording(question: qm.Question) -> bd.Text:
    return bd.Text(qm.text_in(question.text, "zh"), qm.text_in(question.text, "en"))


def _fieldwork(session: Session, survey: Survey, county: OutcomeRates | None, deff: float | None,
               settings: Settings, clock: Clock, method: AnalysisMethod) -> bd.Fieldwork:
    zone = settings.centre_timezone
    first, last = session.execute(select(func.min(CallAttempt.started_at), func.max(CallAttempt.started_at))
                                  .where(CallAttempt.survey_id == survey.id)).one()
    start = to_local(first or clock.now(), zone).date()
    end = to_local(last, zone).date() if last else start
    completes = session.execute(
        select(Interview.mode, Stratum.code, func.count()).join(Case, Case.id == Interview.case_id)
        .join(Stratum, Stratum.id == Case.stratum_id)
        .where(Interview.survey_id == survey.id, Interview.status == InterviewStatus.COMPLETE)
        .group_by(Interview.mode, Stratum.code)).all()
    by_mode: Counter[str] = Counter()
    by_town: Counter[str] = Counter()
    for mode, town, n in completes:
        by_mode[MODE_NAMES.get(mode, mode)] += n
        by_town[town] += n
    return bd.Fieldwork(
        sponsor=bd.Text(settings.sponsor, settings.sponsor_en),
        organisation=bd.Text(settings.centre_name, settings.centre_name_en),
        population=bd.Text("全县各乡镇（街道）18周岁及以上、在本地居住满半年的常住居民（以实际居住为准，不以户籍为准）",
                           "Resident adults: people aged 18 and over who have lived in the township for six months "
                           "or more, wherever their household registration is"),
        frame=bd.Text("按乡镇（街道）分层的住户电话样本（手机和固定电话）；没有电话或长期不接听的居民不在覆盖范围内",
                      "Household phone numbers (mobile and landline) stratified by township; residents without "
                      "a phone, or who never answer, are not covered"),
        start=start, end=end, calling_hours=_calling_hours(survey, start, end),
        completes_by_mode=dict(by_mode), completes_by_township=dict(by_town),
        dispositions=_dispositions(county),
        weighting_targets=_population_source(survey),
        # as the analysis made them; the methods box ends the sentence itself
        weighting_method=bd.Text(method.text("zh").rstrip("。"), method.text("en").rstrip(".")),
        significance_rule=bd.Text(*LABELS["m_significance_text"]),
        limitations=bd.Text("电话调查不覆盖无电话人群；未接听和拒访者的看法可能与受访者不同，加权只能部分纠正；"
                            "样本量较小的乡镇区间较宽，排名差异多在误差范围内",
                            "Phone surveys miss people without phones; non-respondents may differ from "
                            "respondents in ways weighting only partly corrects; small townships have wide "
                            "intervals and most rank differences are within the noise"),
        weight_deff_kish=deff,
    )


#: What the weighting targets are when the survey does not say: resident (常住) adults, never 户籍 counts.
POPULATION_SOURCE = bd.Text(
    "各乡镇（街道）18周岁及以上常住人口（第七次全国人口普查常住人口口径，不使用户籍人口）的年龄组×性别构成",
    "Resident adults aged 18 and over of each township (7th national census, resident population, not the "
    "household registration (hukou) counts) by age group × sex")


def _population_source(survey: Survey) -> bd.Text:
    """The survey's own statement of its population counts (``population_source: {zh:, en:}`` beside its
    index definitions), else the census resident population."""
    given = _presentation(survey).get("population_source")
    if isinstance(given, dict) and given.get("zh") and given.get("en"):
        return bd.Text(str(given["zh"]), str(given["en"]))
    return POPULATION_SOURCE


def _calling_hours(survey: Survey, start: date, end: date) -> bd.CallingHours:
    """The survey's calling windows as configured (dialer.policy), and its holidays in the field period."""
    from dialer.policy import DialPolicy

    windows = DialPolicy.from_survey(survey).windows

    def ranges(rs: Sequence[TimeRange]) -> bd.Hours:
        return tuple((r.start, r.end) for r in rs)

    return bd.CallingHours(weekday=ranges(windows.weekday), weekend=ranges(windows.weekend),
                           days={day: ranges(rs) for day, rs in windows.days.items()},
                           timezone=windows.timezone,
                           holidays=sum(1 for d in windows.holidays if start <= d <= end))


def _dispositions(county: OutcomeRates | None) -> bd.Dispositions:
    g = county.counts if county else {}
    return bd.Dispositions(
        complete=int(g.get("I", 0)), partial=int(g.get("P", 0)), refusal_breakoff=int(g.get("R", 0)),
        non_contact=int(g.get("NC", 0)), other=int(g.get("O", 0)), unknown_household=int(g.get("UH", 0)),
        unknown_respondent=int(g.get("UR", 0)), unknown_other=int(g.get("UO", 0)),
        not_eligible=int(g.get("NE", 0)), e=county.e if county and county.e is not None else 1.0)


def _concerns(session: Session, survey: Survey) -> bd.Concerns | None:
    rows = session.execute(select(Concern, Stratum.code).join(Stratum, Stratum.id == Concern.stratum_id)
                           .where(Concern.survey_id == survey.id)).all()
    if not rows:
        return None
    cells: Counter[tuple[str, str, str, str]] = Counter()
    on_time: Counter[tuple[str, str, str, str]] = Counter()
    satisfied: Counter[tuple[str, str, str, str]] = Counter()
    for concern, town in rows:
        key = (concern.category, town, concern.unit.code if concern.unit else "-", CONCERN_STATUS[concern.status])
        cells[key] += 1
        if concern.resolved_at and (concern.deadline is None or concern.resolved_at <= concern.deadline):
            on_time[key] += 1
        if concern.revisit_result == "fixed":
            satisfied[key] += 1
    units = {u.code: bd.Text(u.name_zh, u.name_en or u.name_zh) for u in session.scalars(select(Unit))}
    units.setdefault("-", bd.Text("未交办", "Not assigned"))
    categories = {c: bd.Text(CATEGORIES.get(c, {}).get("zh", c), CATEGORIES.get(c, {}).get("en", c))
                  for c, *_ in cells}
    return bd.Concerns(
        cells=tuple(bd.ConcernCell(*key, count=n, on_time=on_time[key], satisfied=satisfied[key])
                    for key, n in sorted(cells.items())),
        categories=categories, units=units)



def _benchmarks(session: Session, survey: Survey) -> tuple[bd.Benchmark, ...]:
    rows = session.scalars(select(BenchmarkRow).where(BenchmarkRow.survey_id == survey.id)).all()
    return tuple(bd.Benchmark(index=b.index, source=bd.Text(b.source, b.source), period=period_label(survey.period),
                              value=b.value, rank=b.rank, of_counties=b.of_areas) for b in rows)
