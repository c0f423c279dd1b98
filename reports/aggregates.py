"""The bulletin's township table as data: what was published, ready for ``exports.export``.

Withheld cells stay empty, so the file shares the bulletin's publication rule.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.results import COUNTY
from reports.bulletin_data import BulletinData, IndexDefinition, Lang
from reports.exports import ValueLabels
from reports.i18n import tr
from reports.reliability import Reliability, TownshipRow, assess, points, township_rows

RELIABILITY_CODES = {Reliability.OK: 1, Reliability.FLAGGED: 2, Reliability.SUPPRESSED: 3}
TIER_CODES = {"above": 1, "same": 2, "below": 3}
AGGREGATE_LABELS: dict[str, tuple[str, str]] = {
    "period": ("时期", "Period"),
    "stratum": (f"地区代码（{COUNTY} 为全县）", f"Area code ({COUNTY} = county)"),
    "area": ("地区", "Area"),
    "index": ("指数代码", "Index code"),
    "index_name": ("指数", "Index"),
    "unit": ("单位", "Unit"),
    "n": ("有效回答人数（未加权）", "Valid answers (unweighted)"),
    "estimate": ("估计值（0–100）", "Estimate (0–100)"),
    "se": ("标准误", "Standard error"),
    "ci_low": ("95%置信区间下限", "95% CI lower"),
    "ci_high": ("95%置信区间上限", "95% CI upper"),
    "deff": ("设计效应", "Design effect"),
    "n_eff": ("有效样本量", "Effective n"),
    "reliability": ("发布状态", "Publication status"),
    "rank": ("名次", "Rank"),
    "rank_low": ("名次区间下限", "Rank range from"),
    "rank_high": ("名次区间上限", "Rank range to"),
    "tier": ("与全县比较", "vs county"),
}
AGGREGATE_VALUES: dict[str, dict[int, tuple[str, str]]] = {
    "reliability": {1: ("发布", "published"), 2: ("发布，谨慎使用（※）", "published, flagged ※"),
                    3: ("样本量不足，不发布", "withheld: too few interviews")},
    "tier": {1: ("高于全县", "above the county"), 2: ("未显示出差异", "not shown to differ"),
             3: ("低于全县", "below the county")},
}  # fmt: skip


def aggregate_table(
    data: BulletinData, lang: Lang = "zh"
) -> tuple[pd.DataFrame, dict[str, str], ValueLabels]:
    """The current period's county and township estimates as published: withheld cells are empty.

    Values are on the 0–100 scale (shares as percentages), as in the bulletin.
    """
    rows = []
    for index in data.indices:
        county = data.estimate(index.id)
        rows.append(_row(data, index, TownshipRow(COUNTY, county, assess(county, data.rule)), lang))
        rows += [_row(data, index, row, lang) for row in township_rows(data, index.id)]
    frame = pd.DataFrame(rows, columns=list(AGGREGATE_LABELS))
    for column in ("rank", "rank_low", "rank_high", "tier"):  # empty for the county and withheld rows
        frame[column] = frame[column].astype("float64")
    variable_labels = {k: (zh if lang == "zh" else en) for k, (zh, en) in AGGREGATE_LABELS.items()}
    value_labels = {
        k: {code: (zh if lang == "zh" else en) for code, (zh, en) in codes.items()}
        for k, codes in AGGREGATE_VALUES.items()
    }
    return frame, variable_labels, value_labels


def _row(data: BulletinData, index: IndexDefinition, row: TownshipRow, lang: Lang) -> list[object]:
    est = row.estimate
    published = est is not None and row.reliability is not Reliability.SUPPRESSED

    def shown(value: float | None, scale: bool = True) -> float:
        if not published or value is None:
            return math.nan
        return points(value, index.kind) if scale else value

    area = tr("county", lang) if row.code == COUNTY else data.township_name(row.code, lang)
    return [
        data.periods.current,
        row.code,
        area,
        index.id,
        index.name.get(lang),
        tr(f"unit_{index.kind}", lang),
        est.n if est else 0,
        shown(est.estimate if est else None),
        shown(est.se if est else None),
        shown(est.ci_low if est else None),
        shown(est.ci_high if est else None),
        shown(est.deff if est else None, scale=False),
        shown(est.n_eff if est else None, scale=False),
        RELIABILITY_CODES[row.reliability],
        row.rank,
        row.rank_low,
        row.rank_high,
        TIER_CODES.get(row.tier or ""),
    ]
