"""Linearised variance when calibration groups span townships (``--method county``), by block
elimination of the township totals: no cells x domains and no groups x groups matrix.

Block structure. ``--method county`` calibrates to every township's total N_h (groupings[0]: one
group per township) and to G pooled groups (groupings[1:]: the file's age x sex cells, or one
margin per variable; G is a dozen at most however many townships the file has). Its indicator is
X = [T | P], T (cells x H) the cell's township, P (cells x G) its pooled group(s). With
D = diag(d_h n_c) (base weight d_h = N_h/n_h times the cell's respondents n_c) and S the per-cell
sums of an influence column, the exact projection's normal equations X'DX b = X'D (S/n) are

    [ A   B ] [t]   [r_T]      A = T'DT = diag(N_h)           r_T,h = d_h sigma_h
    [ B'  C ] [p] = [r_P]      B = T'DP, row h = d_h nu_h      r_P   = sum_h d_h rho_h
                               C = P'DP (G x G)

sigma_h the township's sum of S, rho_h its sums of S per pooled group, nu_h its respondents per
pooled group. A is diagonal, so t eliminates, t_h = (sigma_h - nu_h' p)/n_h, and p solves the
G x G Schur complement

    (C - B' A^-1 B) p = sum_h d_h R_h,     R_h = rho_h - nu_h sigma_h / n_h.

The whole system is singular (the township indicators add up to every margin's) but consistent
(the right-hand side lies in the range of X'DX), so the pseudo-inverse of the Schur complement
gives one of its solutions and X b is the unique weighted projection: the fitted values of the
pseudo-inverse of the whole (H + G) square matrix, to rounding. R ``rake()``'s sweeps
(``rake-sweeps``) have the same form, unweighted: each sweep's township step leaves
t_h = (sigma_h - nu_h' p^)/n_h, p^ the pooled offsets before the sweep's pooled steps, and the
pooled steps are block Gauss-Seidel steps on the unweighted G x G system.

Domains. A domain's influence column is its level's column (:mod:`analysis.cell_moments`) in the
domain's cells and an "outside" column elsewhere: 0 for the domain's own variance, minus the
whole file's column for a township's or group's difference from the whole file. Its right-hand
side sums R_h inside and outside: per township, then per domain (domains x G). Cell c of township
h then has the mean residual

    z_c = m_c + E_c' x_d,   m_c = w_c (S_c/n_c - sigma_h/n_h),   E_c' x_d = w_c (nu_h' p^_d/n_h - P_c' p_d)

(x_d = p_d, or p^_d and p_d for the sweeps), and the stratified variance is
sum_h scale_h [sum_c n_c (z_c - zbar_h)^2 + w_c^2 SS_c]. Each cell lies in one domain of a level,
so the domain's own townships are summed cell by cell with that domain's x; the townships outside
it give a quadratic in x_d with per-township coefficients, Z_h + W_h + 2 Y_h' x_d + x_d' K_h x_d
(K_h = sum_c n_c (E_c - Ebar_h)(E_c - Ebar_h)' is the same for every column), summed over every
township less the domain's own. Work: cells x G per column plus domains x G^2.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy import sparse

from analysis.cell_moments import cell_weights, stratum_scale, town_sums
from analysis.grouping import FloatArray, IntArray
from analysis.pinv import pinvh
from analysis.weights.calibrate import Calibration

Side = tuple[FloatArray, FloatArray]  # per cell: sum and centred sum of squares of an influence column


class PooledFit:
    """The calibration fit of a township-totals-plus-pooled-groups calibration, in G dimensions."""

    def __init__(self, calibration: Calibration, exact: bool, sweeps: int) -> None:
        town = calibration.cell_township
        if not np.array_equal(calibration.groupings[0].ids, town):
            raise ValueError("groups spanning townships need the townships as the first calibration grouping")
        self.calibration, self.exact, self.sweeps = calibration, exact, sweeps
        self.town, self.strata = town, len(calibration.design.labels)
        self.count = calibration.cells.count.astype(np.float64)
        self.n = calibration.design.n.astype(np.float64)
        self.weight = cell_weights(calibration)
        blocks, self.margins, width = [], [], 0
        for groups in calibration.groupings[1:]:
            inside = groups.ids >= 0
            rows = np.flatnonzero(inside)
            blocks.append(sparse.csr_matrix((np.ones(rows.size), (rows, groups.ids[inside])),
                                            shape=(town.size, groups.size)))
            self.margins.append(slice(width, width + groups.size))
            width += groups.size
        self.pooled = np.asarray(sparse.hstack(blocks).toarray())  # cells x G, G a dozen at most
        self.nu = town_sums(town, self.count[:, None] * self.pooled, self.strata)  # townships x G
        self.d = calibration.design.N / self.n if exact else np.ones(self.strata)
        by_cell = self.pooled.T @ (self.count[:, None] * self.pooled)
        by_town = self.nu.T @ (self.nu / self.n[:, None])
        if exact:
            base = self.d[town] * self.count
            self._inverse = pinvh((self.pooled.T @ (base[:, None] * self.pooled)
                                   - self.nu.T @ ((self.d / self.n)[:, None] * self.nu))[None])[0]
        self._by_cell, self._by_town = by_cell, by_town

    def fitted(self, per_cell: FloatArray) -> FloatArray:
        """Per-cell fitted values X b from the per-cell sums of u (cells, or cells x columns)."""
        sums = per_cell.reshape(per_cell.shape[0], -1)
        sigma = town_sums(self.town, sums, self.strata)
        p, p_hat = self.solve(self.pooled.T @ (self.d[self.town][:, None] * sums)
                              - self.nu.T @ ((self.d / self.n)[:, None] * sigma))
        t = (sigma - self.nu @ p_hat) / self.n[:, None]
        return np.asarray(t[self.town] + self.pooled @ p).reshape(per_cell.shape)

    def solve(self, rhs: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Pooled offsets p and the p^ of the townships' step (G x columns) from sum_h d_h R_h."""
        if self.exact:
            p = self._inverse @ rhs
            return p, p
        p = p_hat = np.zeros_like(rhs)
        count = np.maximum(np.diag(self._by_cell), 1.0)[:, None]
        for _ in range(self.sweeps):
            p_hat = p.copy()
            for margin in self.margins:
                remaining = rhs[margin] + self._by_town[margin] @ p_hat - self._by_cell[margin] @ p
                p[margin] += remaining / count[margin]
        return p, p_hat

    def variances(self, inside: Side, outside: Side | None, town_domain: IntArray, domains: int) -> FloatArray:
        """Variance of every domain of one level (``town_domain``: each township's domain) of the
        column that is ``inside`` in the domain's cells and ``outside`` elsewhere (None: 0)."""
        member = sparse.csr_matrix((np.ones(self.strata), (town_domain, np.arange(self.strata))),
                                   shape=(domains, self.strata))
        rhs = member @ self._rhs(inside[0])
        if outside is not None:
            rest = self._rhs(outside[0])
            rhs += rest.sum(axis=0) - member @ rest
        p, p_hat = self.solve(rhs.T)
        x = (p if self.exact else np.vstack([p_hat, p])).T  # domains x k
        own = member @ self._own_terms(inside, x[town_domain[self.town]])
        k = x.shape[1]
        quadratic = member @ self._quadratic.reshape(self.strata, k * k)
        rest_q = (quadratic.sum(axis=0) - quadratic).reshape(domains, k, k)
        others = np.einsum("dk,dkl,dl->d", x, rest_q, x)
        if outside is not None:
            constant, linear = self._outside_terms(outside)
            per_constant, per_linear = member @ constant, member @ linear
            others += (per_constant.sum() - per_constant) + 2.0 * np.einsum(
                "dk,dk->d", x, per_linear.sum(axis=0) - per_linear)
        return np.asarray(own + others, dtype=np.float64)

    def _rhs(self, sums: FloatArray) -> FloatArray:
        """Per township: d_h R_h = d_h (rho_h - nu_h sigma_h/n_h) (townships x G)."""
        rho = town_sums(self.town, sums[:, None] * self.pooled, self.strata)
        sigma = town_sums(self.town, sums, self.strata)
        return np.asarray(self.d[:, None] * (rho - self.nu * (sigma / self.n)[:, None]))

    def _mean(self, sums: FloatArray) -> FloatArray:
        """m_c = w_c (S_c/n_c - sigma_h/n_h)."""
        sigma = town_sums(self.town, sums, self.strata)
        return np.asarray(self.weight * (sums / np.maximum(self.count, 1.0) - (sigma / self.n)[self.town]))

    @cached_property
    def _features(self) -> FloatArray:
        """E_c (cells x k): E_c' x_d = w_c (nu_h' p^_d / n_h - P_c' p_d)."""
        share = (self.nu / self.n[:, None])[self.town]
        parts = [share - self.pooled] if self.exact else [share, -self.pooled]
        return np.asarray(self.weight[:, None] * np.hstack(parts))

    @cached_property
    def _centred(self) -> FloatArray:
        """E_c - Ebar_h, Ebar_h the township's respondent-weighted mean."""
        features = self._features
        mean = town_sums(self.town, self.count[:, None] * features, self.strata) / self.n[:, None]
        return np.asarray(features - mean[self.town])

    @cached_property
    def _quadratic(self) -> FloatArray:
        """scale_h K_h (townships x k x k)."""
        e = self._centred
        outer = town_sums(self.town, self.count[:, None, None] * e[:, :, None] * e[:, None, :], self.strata)
        return np.asarray(stratum_scale(self.calibration)[:, None, None] * outer)

    def _own_terms(self, inside: Side, x_of_cell: FloatArray) -> FloatArray:
        """Per township: its stratum term of the column of its own domain (x of each cell's domain)."""
        z = self._mean(inside[0]) + np.einsum("ck,ck->c", self._features, x_of_cell)
        zbar = town_sums(self.town, self.count * z, self.strata) / self.n
        between = town_sums(self.town, self.count * (z - zbar[self.town]) ** 2, self.strata)
        within = town_sums(self.town, self.weight * self.weight * inside[1], self.strata)
        return np.asarray(stratum_scale(self.calibration) * (between + within))

    def _outside_terms(self, outside: Side) -> tuple[FloatArray, FloatArray]:
        """Per township: scale_h (Z_h + W_h) and scale_h Y_h of the outside column."""
        m = self._mean(outside[0])
        centred = m - (town_sums(self.town, self.count * m, self.strata) / self.n)[self.town]
        scale = stratum_scale(self.calibration)
        squares = town_sums(self.town, self.count * centred * centred + self.weight * self.weight * outside[1],
                            self.strata)
        linear = town_sums(self.town, (self.count * centred)[:, None] * self._centred, self.strata)
        return np.asarray(scale * squares), np.asarray(scale[:, None] * linear)
