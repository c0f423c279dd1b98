"""Linearised variances from per-cell sums instead of per-respondent matrices.

Every respondent of a weighting cell has the same weight w_c and the same calibration fit f_c
(both constant within a cell), and lies in the same township, group and file. An influence value
of an item index at one level is u_i = (t_i - E v_i) / W with t = valid * y, v = valid and E, W
the estimate and weight of the row's domain, so within a cell every influence column, and every
combination of columns (composites, a township minus the whole file), is a linear combination
a t + b v with coefficients constant in the cell. The stratified variance then needs, per cell,
only the sums of t and v and their cross-products centred within the cell:

    sum_{i in h} (z_i - zbar_h)^2 = sum_{c in h} [n_c (m_c - zbar_h)^2 + w_c^2 SS_c(u)],
    m_c = w_c (ubar_c - f_c),   SS_c(u) = coefficients' C_c coefficients,

C_c the centred cross-products of the variables in cell c. The respondents are read once per
variable and pair of variables (one ``reduceat`` each on rows sorted by cell); everything after
that is cells x columns, a few thousand rows even for a province, with no respondents x
domains matrix. Same figures as the per-respondent formula up to rounding (centred sums, no
"sum of squares minus square of sums").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.grouping import FloatArray, Groups, IntArray
from analysis.indices import ItemValues
from analysis.weights.calibrate import Calibration

Variable = tuple[str, str]  # (item name, "t" for valid * y, "v" for valid, "d" for valid * (y - cell's mean))


@dataclass
class CellMoments:
    """Per-cell sums and centred cross-products of the items' t and v, computed when first asked."""

    cells: Groups
    items: Mapping[str, ItemValues]
    _centred: dict[Variable, FloatArray] = field(default_factory=dict)
    _sums: dict[Variable, FloatArray] = field(default_factory=dict)
    _cross: dict[tuple[Variable, Variable], FloatArray] = field(default_factory=dict)

    @property
    def count(self) -> FloatArray:
        return self.cells.count.astype(np.float64)

    def sums(self, variable: Variable) -> FloatArray:
        if variable not in self._sums:
            self._sums[variable] = self.cells.sum(self._row(variable))
        return self._sums[variable]

    def cross(self, a: Variable, b: Variable) -> FloatArray:
        """Per cell: sum (a - mean_c a)(b - mean_c b)."""
        key = (a, b) if a <= b else (b, a)
        if key not in self._cross:
            self._cross[key] = self.cells.sum(self._centre(key[0]) * self._centre(key[1]))
        return self._cross[key]

    def valid_mean(self, name: str) -> FloatArray:
        """Per cell: the mean of the item's valid answers (0 without any)."""
        t, v = self.sums((name, "t")), self.sums((name, "v"))
        return np.divide(t, v, out=np.zeros_like(t), where=v > 0)

    def _row(self, variable: Variable) -> FloatArray:
        item = self.items[variable[0]]
        valid = item.valid.astype(np.float64)
        if variable[1] == "d":
            return valid * (item.y - self.valid_mean(variable[0])[self.cells.ids])
        return item.y * valid if variable[1] == "t" else valid

    def _centre(self, variable: Variable) -> FloatArray:
        if variable not in self._centred:
            mean = self.sums(variable) / np.maximum(self.count, 1.0)
            self._centred[variable] = self._row(variable) - mean[self.cells.ids]
        return self._centred[variable]


@dataclass(frozen=True)
class Column:
    """One influence column: per variable, its coefficient in every cell (or several columns at
    once: coefficients cells x columns)."""

    terms: Sequence[tuple[Variable, FloatArray]]

    def minus(self, other: Column) -> Column:
        return Column([*self.terms, *((v, -c) for v, c in other.terms)])

    def negated(self) -> Column:
        return Column([(v, -c) for v, c in self.terms])


def column_sums(moments: CellMoments, column: Column) -> FloatArray:
    """Per-cell sum of the column's influence values."""
    total = np.zeros(column.terms[0][1].shape)
    for variable, coefficient in column.terms:
        total += coefficient * _along(moments.sums(variable), coefficient)
    return total


def column_spread(moments: CellMoments, column: Column) -> FloatArray:
    """Per-cell centred sum of squares of the column's influence values.

    t = d + ybar_c v, with d the valid answers' deviations from their cell mean ybar_c: in those
    terms the sum of squares is a sum of non-negative parts (S_yy + V (ybar - E)^2 (n - V)/n for one
    item), so it stays exactly 0 when every answer in the cell is alike, where the expansion in t
    and v would leave rounding noise of the size of y^2."""
    merged: dict[Variable, FloatArray] = {}

    def add(variable: Variable, coefficient: FloatArray) -> None:
        merged[variable] = merged[variable] + coefficient if variable in merged else coefficient

    for (name, kind), coefficient in column.terms:
        if kind == "t":
            add((name, "d"), coefficient)
            add((name, "v"), coefficient * _along(moments.valid_mean(name), coefficient))
        else:
            add((name, kind), coefficient)
    terms = list(merged.items())
    total = np.zeros(terms[0][1].shape)
    for j, (a, ca) in enumerate(terms):
        total += ca * ca * _along(moments.cross(a, a), ca)
        for b, cb in terms[j + 1:]:
            total += 2.0 * ca * cb * _along(moments.cross(a, b), ca)
    return np.maximum(total, 0.0)  # a sum of squares: below 0 only by rounding


def _along(per_cell: FloatArray, coefficient: FloatArray) -> FloatArray:
    """A per-cell vector shaped to multiply coefficients of one column (cells) or several (cells x k)."""
    return per_cell if coefficient.ndim == 1 else per_cell[:, None]


def stratum_terms(calibration: Calibration, sums: FloatArray, spread: FloatArray,
                  fitted: FloatArray) -> FloatArray:
    """(strata x columns) terms of the stratified variance of z = w (u - fitted) from per-cell
    sums and centred sums of squares of u (cells x columns) and the per-cell fitted values.

    A stratum with a single respondent contributes 0 (R's ``lonely.psu="certainty"``).
    """
    design = calibration.design
    count = calibration.cells.count.astype(np.float64)
    town = calibration.cell_township
    weight = cell_weights(calibration)
    mean = weight[:, None] * (sums / np.maximum(count, 1.0)[:, None] - fitted)
    strata = len(design.labels)
    n = design.n.astype(np.float64)
    zbar = town_sums(town, count[:, None] * mean, strata) / n[:, None]
    between = town_sums(town, count[:, None] * (mean - zbar[town]) ** 2, strata)
    within = town_sums(town, (weight * weight)[:, None] * spread, strata)
    return np.asarray(stratum_scale(calibration)[:, None] * (between + within))


def cell_weights(calibration: Calibration) -> FloatArray:
    """Every grid cell's weight (its respondents share one; 0 for an empty cell)."""
    count = calibration.cells.count.astype(np.float64)
    return np.asarray(calibration.cells.sum(calibration.weights) / np.maximum(count, 1.0), dtype=np.float64)


def stratum_scale(calibration: Calibration) -> FloatArray:
    """Per township: (1 - f_h) n_h/(n_h - 1), 0 for a single respondent (R's ``lonely.psu="certainty"``)."""
    design = calibration.design
    n = design.n.astype(np.float64)
    return np.asarray(np.divide(design.fpc * n, n - 1.0, out=np.zeros_like(n), where=n > 1))


def town_sums(town: IntArray, values: FloatArray, strata: int) -> FloatArray:
    """Per-township sums of a per-cell vector or of each column of a cells x columns matrix (the grid's cells run township
    by township, each township holding at least one cell)."""
    return np.asarray(np.add.reduceat(values, np.searchsorted(town, np.arange(strata)), axis=0))
