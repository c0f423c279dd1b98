"""Delete-one jackknife (JKn) replicate weights, each replicate calibrated again like the full sample.

Replicate (h, i) drops respondent i of township h, multiplies the other base weights of h by
n_h/(n_h - 1) and then calibrates to the same targets through the same groups as the full sample
(post-strata, raked margins or the county's cells). The variance of an estimate theta is

    V = sum_h (1 - n_h/N_h) (n_h - 1)/n_h sum_{i in h} (theta_(hi) - theta)^2,

about the full-sample estimate theta, which is R ``survey``'s ``as.svrepdesign(design,
type="JKn", mse=TRUE)`` followed by ``postStratify``, ``rake`` or ``calibrate`` on the replicate
design (Rust & Rao 1996; Valliant 1993). Centring on theta rather than on the replicates' mean
adds the squared bias of the replicates, so it is the (slightly) larger of the two.

Why not the linearisation alone: for a post-stratified mean the linearised variance is
sum_g W_g^2 s_g^2 (n_g - 1)/n_g^2, conditional on the cell sizes n_g. With cells of 2-10
respondents it understates the spread over repeated samples twice over: the factor (n_g - 1)/n_g
and the randomness of n_g itself (Holt & Smith 1979; Särndal, Swensson & Wretman 1992, sec. 7.6).
Deleting a respondent and calibrating again moves the cell weight N_g/n_g to N_g/(n_g - 1), so the
jackknife term of a cell is W_g^2 s_g^2/(n_g - 1): larger by n_g^2/(n_g - 1)^2, most where cells
are thinnest. Valliant (1993, JASA 88:89-96) found the jackknife robust for conditional and
unconditional inference after post-stratification; docs/methods.md has the coverage we measured.

Every respondent of a weighting cell yields the same replicate weights, so replicates are built
per occupied cell, not per respondent: at most (townships x cells) calibrations, stacked into one
raking problem. Townships with a single respondent contribute nothing (R's lonely.psu "certainty").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analysis.grouping import FloatArray, IntArray, bincount
from analysis.weights.calibrate import Calibration
from analysis.weights.rake import Margin, RakeDidNotConverge, rake

MAX_STACK = 20_000_000  # replicates x grid cells beyond which the caller falls back to linearisation


@dataclass(frozen=True)
class Replicates:
    """Occupied cells as replicates: the cell that loses a respondent and every grid cell's
    per-respondent weight in that replicate (replicates x grid cells)."""

    cell: IntArray
    weights: FloatArray
    scale: FloatArray  # per township: (1 - f_h) (n_h - 1) / n_h, 0 for a single respondent

    def of_rows(self, row_cell: IntArray) -> IntArray:
        """The replicate that deletes each row."""
        index = np.full(int(row_cell.max(initial=0)) + 1, -1, dtype=np.intp)
        index[self.cell] = np.arange(self.cell.size)
        return np.asarray(index[row_cell], dtype=np.intp)


class NoJackknife(Exception):
    """The replicates cannot be calibrated (a group would lose its only respondent) or are too many."""


def jackknife(calibration: Calibration) -> Replicates:
    """One replicate per occupied cell of every township with two or more respondents."""
    design = calibration.design
    size = calibration.cell_township.size
    counts = calibration.cells.count.astype(np.float64)
    town = calibration.cell_township
    n = design.n.astype(np.float64)
    cell = np.flatnonzero((counts > 0) & (n[town] > 1))
    replicates = cell.size
    if replicates * size > MAX_STACK:
        raise NoJackknife(f"{replicates} replicates of {size} cells are too many")
    full = calibration.cells.sum(calibration.weights) / np.maximum(counts, 1.0)  # each cell's weight
    rep_counts = np.tile(counts, (replicates, 1))
    rep_counts[np.arange(replicates), cell] -= 1
    base = np.tile((design.N / n)[town], (replicates, 1))
    own = town[None, :] == town[cell][:, None]
    base[own] = np.repeat(design.N[town[cell]] / np.maximum(n[town[cell]] - 1, 1), own.sum(axis=1))
    margins = [_stacked(groups.ids, counts * full, replicates) for groups in calibration.groupings]
    seed = (rep_counts * base).ravel()
    try:
        g = rake(seed, margins)
    except RakeDidNotConverge as exc:
        raise NoJackknife("a replicate cannot meet its calibration targets (a calibration group has "
                          "a single respondent)") from exc
    weights = (g * base.ravel()).reshape(replicates, size)
    scale = np.where(n > 1, design.fpc * (n - 1) / np.maximum(n, 1), 0.0)
    return Replicates(cell, weights, scale)


def _stacked(groups: IntArray, totals: FloatArray, replicates: int) -> Margin:
    """One margin over replicates x cells: group g of replicate r is r * (number of groups) + g,
    with the full sample's total as its target."""
    width = int(groups.max(initial=-1)) + 1
    inside = groups >= 0
    targets = bincount(groups[inside], totals[inside], width)
    offset = (np.arange(replicates) * width)[:, None]
    ids = np.where(inside[None, :], groups[None, :] + offset, -1).ravel()
    return Margin(ids.astype(np.intp), np.tile(targets, replicates))


def replicate_values(rep: Replicates, calibration: Calibration, y: FloatArray, valid: FloatArray,
                     own: IntArray, n_domains: int, estimate: FloatArray) -> FloatArray:
    """(rows x domains) replicate estimates sum w y valid / sum w valid: row i's value is the
    estimate of replicate (its township, its deletion).

    ``own`` (grid cells x levels) gives the domain of each cell at each level (its township, its
    group, the whole file); ``estimate`` the full-sample value of every domain (kept where a
    replicate leaves a domain without valid answers).
    """
    if rep.cell.size == 0:  # every township has a single respondent: nothing varies
        return np.tile(estimate, (y.size, 1))
    cells = calibration.cells
    per_cell_num, per_cell_den = cells.sum(y * valid), cells.sum(valid)
    num, den = _domain_totals(rep, own, n_domains, per_cell_num), _domain_totals(rep, own, n_domains, per_cell_den)
    r = rep.of_rows(cells.ids)
    kept = r >= 0
    r = np.where(kept, r, 0)
    omega = rep.weights[r, cells.ids] * valid
    row_num, row_den = num[r], den[r]
    rows = np.arange(y.size)
    for level in range(own.shape[1]):
        d = own[cells.ids, level]
        row_num[rows, d] -= omega * y
        row_den[rows, d] -= omega
    out = np.divide(row_num, row_den, out=np.tile(estimate, (y.size, 1)), where=row_den > 0)
    out[~kept] = estimate
    return np.asarray(out, dtype=np.float64)


def jackknife_variance(rep: Replicates, calibration: Calibration, values: FloatArray, full: FloatArray) -> FloatArray:
    """Per column of ``values`` (rows x columns of replicate estimates): the JKn variance about the
    full-sample estimate ``full`` (R's ``mse=TRUE``; rows of townships with one respondent add 0)."""
    centred = values - full[None, :]
    # summed down the strata column by column, so a domain's figure does not depend on the others
    return np.asarray((rep.scale[:, None] * calibration.design.groups.sum(centred * centred)).sum(axis=0),
                      dtype=np.float64)


def _domain_totals(rep: Replicates, own: IntArray, n_domains: int, per_cell: FloatArray) -> FloatArray:
    """(replicates x domains) sums of per_cell times the replicate's cell weights over each domain's
    cells; each domain's sum runs over its own cells only (a sparse product), so adding domains of
    another level (e.g. groups) leaves the others' figures bit for bit as they were."""
    cells = np.arange(own.shape[0])
    member = sparse.csr_matrix((np.tile(per_cell, own.shape[1]), (own.T.ravel(), np.tile(cells, own.shape[1]))),
                               shape=(n_domains, own.shape[0]))
    return np.asarray((member @ rep.weights.T).T, dtype=np.float64)
