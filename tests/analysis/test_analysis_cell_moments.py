"""Per-cell sums (analysis.cell_moments) against the same sums taken respondent by respondent."""

from __future__ import annotations

import numpy as np

from analysis.cell_moments import CellMoments, Column, column_spread, column_sums
from analysis.grouping import Groups
from analysis.indices import ItemValues


def _data(seed: int = 4) -> tuple[np.ndarray, dict[str, ItemValues]]:
    rng = np.random.default_rng(seed)
    cell = np.sort(rng.integers(0, 12, 600))
    cell[cell == 5] = 4  # cell 5 stays empty
    items = {}
    for name, values in (("share", np.array([0.0, 1.0])), ("score", np.array([0.0, 40.0, 60.0, 80.0, 100.0]))):
        valid = rng.random(cell.size) > 0.15
        items[name] = ItemValues(np.where(valid, rng.choice(values, cell.size), 0.0), valid, 0.0, values.max())
    return cell, items


def _per_row(cell: np.ndarray, u: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    sums = np.bincount(cell, u, cells)
    mean = sums / np.maximum(np.bincount(cell, minlength=cells), 1)
    return sums, np.bincount(cell, (u - mean[cell]) ** 2, cells)


def test_a_composite_columns_sums_and_spread_match_the_respondents() -> None:
    cell, items = _data()
    moments = CellMoments(Groups(cell, 12), items)
    rng = np.random.default_rng(9)
    terms, u = [], np.zeros(cell.size)
    for name, item in items.items():  # u = sum over items of a_c t + b_c v, coefficients constant per cell
        a, b = rng.normal(size=12), rng.normal(size=12)
        terms += [((name, "t"), a), ((name, "v"), b)]
        u += a[cell] * item.y * item.valid + b[cell] * item.valid
    sums, spread = _per_row(cell, u, 12)
    column = Column(terms)
    np.testing.assert_allclose(column_sums(moments, column), sums, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(column_spread(moments, column), spread, rtol=1e-11, atol=1e-9)


def test_several_columns_at_once_equal_each_column_alone() -> None:
    cell, items = _data(5)
    moments = CellMoments(Groups(cell, 12), items)
    a = np.random.default_rng(2).normal(size=(12, 3))
    together = column_spread(moments, Column([(("score", "t"), a), (("score", "v"), -2 * a)]))
    for k in range(3):
        alone = column_spread(moments, Column([(("score", "t"), a[:, k]), (("score", "v"), -2 * a[:, k])]))
        np.testing.assert_allclose(together[:, k], alone, rtol=1e-13)


def test_answers_all_alike_in_a_cell_spread_exactly_zero() -> None:
    cell = np.repeat(np.arange(3), 40)
    valid = np.arange(cell.size) % 7 != 0
    item = ItemValues(np.where(valid, 75.0, 0.0), valid, 0.0, 100.0)
    moments = CellMoments(Groups(cell, 3), {"x": item})
    centre = np.full(3, 74.99999999999999)  # an estimate a rounding away from every answer
    ones = np.ones(3)
    spread = column_spread(moments, Column([(("x", "t"), ones), (("x", "v"), -centre)]))
    # sum over the cell of (v (y - E) - mean)^2 = V (75 - E)^2 (n - V)/n: of the size of 1e-28, not 75^2 eps
    assert np.all(spread < 1e-24)
