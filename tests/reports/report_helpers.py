"""Helpers for the report tests: render a bulletin and read its text back, build estimates."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import pdfplumber

from analysis.results import COUNTY, Estimate, Unsampled
from reports.bulletin import render_bulletin
from reports.bulletin_data import BulletinData, Fieldwork, Lang, Periods, Text, Township
from reports.sample import INDICES, sample_bulletin_data


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    def lines(self) -> list[str]:
        return self.text.splitlines()


def render(data: BulletinData, lang: Lang = "zh") -> Rendered:
    buffer = io.BytesIO()
    render_bulletin(data, buffer, lang)
    pdf = buffer.getvalue()
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        pages = [page.extract_text() or "" for page in doc.pages]
    return Rendered(pdf, pages)


def share(stratum: str, p: float | None, n: int, period: str = "2026-10", index: str = "safety") -> Estimate:
    """A share estimate with a logit CI from an SRS standard error times a design effect of 1.2."""
    if p is None:
        return Estimate(period, stratum, index, "share", n, None, None, None, None, None, None, None)
    se = math.sqrt(p * (1 - p) * 1.2 / n)
    half = 1.96 * se / (p * (1 - p))
    logit = math.log(p / (1 - p))
    low, high = (1 / (1 + math.exp(-(logit + d))) for d in (-half, half))
    return Estimate(period, stratum, index, "share", n, p, se, low, high, 1.2, 1.2, n / 1.2)


def tiny_data() -> BulletinData:
    """One index, three townships (one with no completes, left out of the county row; one in the flag
    band), one period, no items, no concerns, no benchmark, no analysis ranks."""
    base = sample_bulletin_data()
    towns = (
        Township("A01", Text("甲镇", "Jia Town")),
        Township("A02", Text("乙乡", "Yi Township")),
        Township("A03", Text("丙镇", "Bing Town")),
    )
    estimates = (share(COUNTY, 0.9012, 160), share("A01", 0.9231, 117), share("A02", 0.8123, 43))
    fieldwork: Fieldwork = replace(
        base.fieldwork,
        completes_by_township={"A01": 120, "A02": 45, "A03": 0},
        completes_by_mode={"IVR": 165},
        dispositions=replace(base.fieldwork.dispositions, complete=165),
    )
    return replace(
        base,
        indices=INDICES[:1],
        townships=towns,
        periods=Periods(
            current="2026-10", labels={"2026-10": Text("2026年10月", "Oct 2026")}, trend=("2026-10",)
        ),
        estimates=estimates,
        changes=(),
        ranks=(),
        concerns=None,
        benchmarks=(),
        items=(),
        unsampled=(Unsampled("2026-10", "A03", 4_000.0, 0.1),),  # no completes: the county row leaves it out
        fieldwork=fieldwork,
        next_release=None,
        contact=None,
    )
