"""要点 / Main points: at most six one-sentence bullets written from the data, numbers first.

Order of priority: the county indices (up to four), the items (e.g. satisfaction with each organ)
that changed significantly, the response rate, townships above or below the county (or that none
was shown to differ), significant township movers, residents' concerns, withheld townships.
"""

from __future__ import annotations

from analysis.results import Change
from reports import formatting as fmt
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.concerns import rate, tally
from reports.i18n import change_unit, join, join_and, sentence_join, tr
from reports.reliability import Reliability, assess, points, published_change, township_rows

MAX_POINTS = 6
MAX_INDEX_POINTS = 4
MAX_NAMES = 4
MAX_MOVERS = 3


def main_points(data: BulletinData, lang: Lang) -> list[str]:
    indices = [p for index in data.indices if (p := index_point(data, index, lang))][:MAX_INDEX_POINTS]
    items = items_point(data, lang)
    others = [
        tiers_point(data, lang),
        movers_point(data, lang),
        concerns_point(data, lang),
        withheld_point(data, lang),
    ]
    return [*indices, *([items] if items else []), response_point(data, lang), *(p for p in others if p)][
        :MAX_POINTS
    ]


def _stop(lang: Lang) -> str:
    return "。" if lang == "zh" else "."


def index_point(data: BulletinData, index: IndexDefinition, lang: Lang) -> str | None:
    est = data.estimate(index.id)
    if est is None or assess(est, data.rule) is Reliability.SUPPRESSED:
        return None
    value = fmt.estimate(est) + ("†" if data.left_out else "")  # footnoted under the headline table
    text = tr("hl_index", lang, name=index.name.get(lang), value=value, ci=fmt.ci(est))
    change = published_change(data, index.id, data.periods.previous)
    if change is not None and change.change is not None:
        text += _change_clause(change, index.kind, lang)
    return text + _stop(lang)


def _change_clause(change: Change, kind: str, lang: Lang) -> str:
    delta = points(change.change or 0.0, kind)
    size = f"{abs(delta):.1f}"
    if size == "0.0":
        return tr("hl_unchanged", lang)
    return tr(
        "hl_change",
        lang,
        direction=tr("hl_up" if delta > 0 else "hl_down", lang),
        size=size,
        unit=change_unit(kind, lang),
        significance=tr("hl_significant" if change.significant else "hl_not_significant", lang),
    )


def items_point(data: BulletinData, lang: Lang) -> str | None:
    """Every item whose county figure changed significantly on the previous period, largest first."""
    moved = [
        (item, change)
        for item in data.items
        if (change := published_change(data, item.id, data.periods.previous)) is not None
        and change.significant
        and change.change is not None
    ]
    if not moved:
        return None
    moved.sort(key=lambda pair: -abs(points(pair[1].change or 0.0, pair[0].kind)))
    listed = [
        tr(
            "hl_item",
            lang,
            name=item.name.get(lang),
            value=fmt.estimate(data.estimate(item.id)) + ("†" if data.left_out else ""),
            direction=tr("hl_up" if (change.change or 0) > 0 else "hl_down", lang),
            size=f"{abs(points(change.change or 0.0, item.kind)):.1f}",
            unit=change_unit(item.kind, lang),
        )
        for item, change in moved
    ]
    return tr("hl_items", lang, items=sentence_join(listed, lang))


def response_point(data: BulletinData, lang: Lang) -> str:
    work = data.fieldwork
    modes = join([f"{mode} {fmt.integer(n)}" for mode, n in work.completes_by_mode.items()], lang)
    return tr(
        "hl_response",
        lang,
        n=fmt.integer(sum(work.completes_by_township.values())),
        modes=modes,
        rr3=fmt.rate(work.dispositions.rr3),
        rr1=fmt.rate(work.dispositions.rr1),
    )


def movers_point(data: BulletinData, lang: Lang) -> str | None:
    """Significant township changes on the previous period, largest first (both ends published)."""
    indices = {index.id: index for index in data.indices}
    movers = [
        change
        for index in data.indices
        for town in data.townships
        if (change := published_change(data, index.id, data.periods.previous, town.code)) is not None
        and change.significant
        and change.change is not None
    ]
    if not movers:
        return None
    movers.sort(key=lambda c: -abs(points(c.change or 0.0, indices[c.index].kind)))
    items = sentence_join([_mover(data, c, indices[c.index], lang) for c in movers[:MAX_MOVERS]], lang)
    key = "hl_movers" if len(movers) <= MAX_MOVERS else "hl_movers_largest"
    return tr(key, lang, count=len(movers), items=items, shown=MAX_MOVERS)


def _mover(data: BulletinData, change: Change, index: IndexDefinition, lang: Lang) -> str:
    return tr(
        "hl_mover",
        lang,
        township=data.township_name(change.stratum, lang),
        index=index.name.get(lang),
        direction=tr("hl_up" if (change.change or 0) > 0 else "hl_down", lang),
        size=f"{abs(points(change.change or 0.0, index.kind)):.1f}",
        unit=change_unit(index.kind, lang),
    )


def tiers_point(data: BulletinData, lang: Lang) -> str | None:
    """Townships significantly above or below the county on the first index."""
    if not data.indices:
        return None
    index = data.indices[0]
    rows = township_rows(data, index.id)
    above = [data.township_name(r.code, lang) for r in rows if r.tier == "above"]
    below = [data.township_name(r.code, lang) for r in rows if r.tier == "below"]
    if not above and not below:
        tested = any(r.tier for r in rows)
        return tr("hl_no_tiers", lang, index=mid_sentence(index.name.get(lang)), towns=len(rows)) if tested else None
    return tr(
        "hl_tiers", lang, index=mid_sentence(index.name.get(lang)), above=_names(above, lang),
        below=_names(below, lang),
    )


def mid_sentence(name: str) -> str:
    """An English index name inside a sentence: ``Sense of safety`` → ``sense of safety`` (an acronym such
    as ``IVR use`` keeps its capitals; Chinese is unchanged)."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _names(names: list[str], lang: Lang) -> str:
    if not names:
        return tr("hl_no_tier", lang)
    if len(names) <= MAX_NAMES:
        return join_and(names, lang)
    shown = join(names[:MAX_NAMES], lang)
    return shown + tr("hl_more", lang, total=len(names), more=len(names) - MAX_NAMES)


def concerns_point(data: BulletinData, lang: Lang) -> str | None:
    if data.concerns is None:
        return None
    total = tally(data.concerns.cells)
    if not total.total:
        return None
    return tr(
        "hl_concerns",
        lang,
        total=fmt.integer(total.total),
        closure=rate(total.closure_rate),
        on_time=rate(total.on_time_rate),
    )


def withheld_point(data: BulletinData, lang: Lang) -> str | None:
    """How many townships' estimates are withheld; when the indices withhold different townships
    (an index asked of fewer residents), the count is of those withheld for at least one index."""
    per_index = [
        frozenset(row.code for row in township_rows(data, index.id) if row.reliability is Reliability.SUPPRESSED)
        for index in data.indices
    ]
    withheld = frozenset().union(*per_index)
    if not withheld:
        return None
    alike = all(codes == withheld for codes in per_index)
    return tr("hl_suppressed" if alike else "hl_suppressed_some", lang, count=len(withheld))
