"""Per-respondent values of the indices: y and whether the answer counts (valid).

Don't-know, refused and blank answers stay in the data with valid = False: they keep their weight
in the weighting base and drop out only of the index's denominator (domain estimation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analysis.grouping import BoolArray, FloatArray
from analysis.responses import Responses
from analysis.spec import CompositeIndex, Index, ScoreIndex, ShareIndex


@dataclass(frozen=True)
class ItemValues:
    """A share or score index: value y (0 where not valid) and the valid mask, for every row."""

    y: FloatArray
    valid: BoolArray
    low: float  # the smallest and largest value y can take
    high: float


def item_values(index: ShareIndex | ScoreIndex, responses: Responses) -> ItemValues:
    codes = responses.answers[index.question]
    answered = ~np.isnan(codes)
    excluded = np.isin(codes, list(index.exclude))
    if isinstance(index, ShareIndex):
        known = np.isin(codes, list(index.valid)) if index.valid is not None else answered
        _unknown_codes(codes, answered & ~excluded & ~known, index.question, responses)
        valid = answered & ~excluded
        y = np.isin(codes, list(index.favourable)).astype(np.float64)
        return ItemValues(np.where(valid, y, 0.0), valid, 0.0, 1.0)
    scored = np.isin(codes, list(index.scores))
    _unknown_codes(codes, answered & ~excluded & ~scored, index.question, responses)
    y = np.zeros(codes.size)
    for code, points in index.scores.items():
        y[codes == code] = points
    return ItemValues(y, scored, min(index.scores.values()), max(index.scores.values()))


def composite_range(index: CompositeIndex, items: Mapping[str, ItemValues]) -> tuple[float, float]:
    low = sum(weight * items[name].low for name, weight in index.components)
    high = sum(weight * items[name].high for name, weight in index.components)
    return low, high


def all_items(indices: tuple[Index, ...], responses: Responses) -> dict[str, ItemValues]:
    return {i.name: item_values(i, responses) for i in indices if not isinstance(i, CompositeIndex)}


def _unknown_codes(codes: FloatArray, unknown: BoolArray, question: str, responses: Responses) -> None:
    if unknown.any():
        position = int(np.flatnonzero(unknown)[0])
        raise responses.error(position, f"code {codes[position]:g} is neither valid, scored nor excluded "
                              "for this question in the spec", column=question)


