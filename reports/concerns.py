"""群众反映问题及办理情况: residents' concerns counted by category, township and unit.

Only aggregate counts reach this module, so nothing here can identify a resident.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reportlab.platypus import Flowable, Paragraph, Table

from reports import formatting as fmt
from reports.bulletin_data import CLOSED_STATUSES, STATUSES, BulletinData, ConcernCell, Concerns, Lang, Text
from reports.i18n import tr
from reports.styles import CONTENT_WIDTH, Styles
from reports.tables import Cell, grid


@dataclass
class Tally:
    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    on_time: int = 0
    satisfied: int = 0

    def add(self, cell: ConcernCell) -> None:
        self.total += cell.count
        self.by_status[cell.status] += cell.count
        self.by_category[cell.category] += cell.count
        self.on_time += cell.on_time
        self.satisfied += cell.satisfied

    @property
    def closed(self) -> int:
        return sum(self.by_status[s] for s in CLOSED_STATUSES)

    @property
    def closure_rate(self) -> float | None:
        return self.closed / self.total if self.total else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.closed if self.closed else None

    @property
    def satisfaction_rate(self) -> float | None:
        revisited = self.by_status["revisited"]
        return self.satisfied / revisited if revisited else None


def tally(cells: Iterable[ConcernCell]) -> Tally:
    result = Tally()
    for cell in cells:
        result.add(cell)
    return result


def tally_by(cells: Iterable[ConcernCell], key: Callable[[ConcernCell], str]) -> dict[str, Tally]:
    """Tallies per key, largest first."""
    groups: defaultdict[str, Tally] = defaultdict(Tally)
    for cell in cells:
        groups[key(cell)].add(cell)
    return dict(sorted(groups.items(), key=lambda item: (-item[1].total, item[0])))


def rate(value: float | None) -> str:
    return fmt.rate(value) if value is not None else fmt.DASH


def summary_sentence(concerns: Concerns, lang: Lang) -> str:
    total = tally(concerns.cells)
    return tr(
        "concerns_summary",
        lang,
        total=fmt.integer(total.total),
        closed=fmt.integer(total.closed),
        closure=rate(total.closure_rate),
        on_time=rate(total.on_time_rate),
        revisited=fmt.integer(total.by_status["revisited"]),
        satisfied=rate(total.satisfaction_rate),
    )


def concerns_section(data: BulletinData, lang: Lang, styles: Styles) -> list[Flowable]:
    concerns = data.concerns
    if concerns is None or not tally(concerns.cells).total:
        return [Paragraph(tr("concerns_none", lang), styles.body)]
    return [
        Paragraph(summary_sentence(concerns, lang), styles.body),
        Paragraph(tr("concerns_by_category", lang), styles.h2),
        _by_category(concerns, lang, styles),
        Paragraph(tr("concerns_by_unit", lang), styles.h2),
        _by_unit(concerns, lang, styles),
        Paragraph(tr("concerns_by_township", lang), styles.h2),
        _by_township(data, concerns, lang, styles),
        Paragraph(tr("concerns_note", lang), styles.note),
    ]


def _by_category(concerns: Concerns, lang: Lang, styles: Styles) -> Table:
    labels = [
        tr("col_category", lang),
        tr("col_count", lang),
        *(tr(s, lang) for s in STATUSES),
        tr("col_closure", lang),
        tr("col_on_time", lang),
    ]
    rows: list[list[Cell]] = [
        [
            Paragraph(escape(_name(concerns.categories, key, lang)), styles.cell),
            fmt.integer(t.total),
            *(fmt.integer(t.by_status[s]) for s in STATUSES),
            rate(t.closure_rate),
            rate(t.on_time_rate),
        ]
        for key, t in tally_by(concerns.cells, lambda c: c.category).items()
    ]
    widths = [0.20, 0.07, 0.10, 0.10, 0.10, 0.10, 0.10, 0.11, 0.12]
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 1)


def _by_unit(concerns: Concerns, lang: Lang, styles: Styles) -> Table:
    labels = [
        tr("col_unit", lang),
        tr("col_count", lang),
        tr("col_open", lang),
        tr("col_closure", lang),
        tr("col_on_time", lang),
    ]
    rows: list[list[Cell]] = [
        [
            _name(concerns.units, key, lang),
            fmt.integer(t.total),
            fmt.integer(t.total - t.closed),
            rate(t.closure_rate),
            rate(t.on_time_rate),
        ]
        for key, t in tally_by(concerns.cells, lambda c: c.unit).items()
    ]
    widths = [0.40, 0.13, 0.13, 0.16, 0.18]
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 1)


def _by_township(data: BulletinData, concerns: Concerns, lang: Lang, styles: Styles) -> Table:
    labels = [
        tr("col_township", lang),
        tr("col_count", lang),
        tr("col_top_category", lang),
        tr("col_closure", lang),
        tr("col_on_time", lang),
    ]
    rows: list[list[Cell]] = [
        [
            Paragraph(escape(data.township_name(code, lang)), styles.cell),  # long names wrap
            fmt.integer(t.total),
            _name(concerns.categories, t.by_category.most_common(1)[0][0], lang),
            rate(t.closure_rate),
            rate(t.on_time_rate),
        ]
        for code, t in tally_by(concerns.cells, lambda c: c.township).items()
    ]
    widths = [0.25, 0.11, 0.32, 0.14, 0.18]
    return grid(labels, rows, [w * CONTENT_WIDTH for w in widths], styles, 1, left=[2])


def _name(names: Mapping[str, Text], key: str, lang: Lang) -> str:
    text = names.get(key)
    return text.get(lang) if text else key
