"""Fay-Herriot area-level small-area estimates, reported beside the direct estimates.

Model: direct_d = x_d' beta + v_d + e_d, v_d ~ N(0, sigma2_v), e_d ~ N(0, psi_d) with psi_d known.
sigma2_v by REML with Fisher scoring from the median psi (as R ``sae::eblupFH``), truncated at 0;
beta by GLS; EBLUP_d = gamma_d direct_d + (1 - gamma_d) x_d' beta, gamma_d = sigma2_v/(sigma2_v+psi_d).
MSE (Prasad-Rao, REML): g1 + g2 + 2 g3 with g1 = gamma psi, g2 = (1-gamma)^2 x'(X'V^-1X)^-1 x,
g3 = (1-gamma)^2 Var(sigma2_v)/(sigma2_v+psi), Var(sigma2_v) = 2 / sum (sigma2_v+psi)^-2 (``sae::mseFH``).
Townships without a usable direct estimate get the synthetic x'beta with MSE sigma2_v + g2-term.

psi never comes from a township's own estimate: a township whose share is 0 or 1 has a direct
variance of 0, and with psi_d = 0 it would get gamma_d = 1 and MSE 0 and be published as exact, at
the top of a ranking. psi is a generalized variance function of pooled quantities (Wolter,
Introduction to Variance Estimation, 2nd ed. 2007, ch. 7; Rao & Molina, Small Area Estimation, 2nd
ed. 2015, sec. 6.4.1: "smoothed" sampling variances):

* shares: psi_d = deff * p(1 - p) / n_d, with p the county estimate (all townships pooled) and deff
  = sum_d V_d n_d / sum_d p_d(1 - p_d) the pooled design effect over the townships whose share lies
  strictly inside (0, 1) (V_d n_d / (p_d(1 - p_d)) is each one's design effect, up to its
  (1 - f_d) n_d/(n_d - 1));
* scores: psi_d = kappa / n_d, kappa = the mean over townships of V_d n_d (the pooled unit variance
  times design effect).

n_d is the township's count of valid answers. Covariates x_d: an intercept and the numeric columns of
``aux`` (township characteristics the caller supplies, such as census shares); they must be known
without sampling error, so a previous wave's direct estimate does not belong there (it has sampling
error as large as the current one; see Ybarra & Lohr 2008, Biometrika 95:919-931).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.grouping import FloatArray
from analysis.results import COUNTY, STRATUM, Estimate, SmallAreaEstimate


@dataclass(frozen=True)
class FayHerriot:
    beta: FloatArray
    sigma2: float
    eblup: FloatArray
    mse: FloatArray


def fay_herriot(direct: FloatArray, psi: FloatArray, x: FloatArray, *, tol: float = 1e-10,
                max_iter: int = 200) -> FayHerriot:
    """REML Fay-Herriot fit and Prasad-Rao MSE for areas with direct estimates."""
    scale = float(np.median(psi))
    sigma2 = scale
    for _ in range(max_iter):
        new = sigma2 + _fisher_step(direct, psi, x, sigma2)
        if new < 0:
            if sigma2 == 0:  # the likelihood still falls at the boundary: sigma2_v = 0
                break
            new = 0.0
        done = abs(new - sigma2) <= tol * max(sigma2, scale)
        sigma2 = new
        if done:
            break
    else:
        raise AnalysisError(f"Fay-Herriot REML did not converge in {max_iter} iterations")
    beta, q = _gls(direct, psi, x, sigma2)
    gamma = sigma2 / (sigma2 + psi)
    eblup = gamma * direct + (1 - gamma) * (x @ beta)
    return FayHerriot(beta, sigma2, eblup, _mse(psi, x, sigma2, q))


def synthetic(fit: FayHerriot, x: FloatArray, x_fit: FloatArray,
              psi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Synthetic x'beta and its MSE for areas outside the fit."""
    _, q = _gls(np.zeros(psi.size), psi, x_fit, fit.sigma2)
    mse: FloatArray = fit.sigma2 + np.einsum("ij,jk,ik->i", x, q, x)
    return x @ fit.beta, mse


def _fisher_step(y: FloatArray, psi: FloatArray, x: FloatArray, sigma2: float) -> float:
    """REML score over Fisher information for sigma2_v, with P = V^-1 - V^-1 X Q X' V^-1 never formed:

    tr P = sum v - tr(Q X'V^2 X), P y = v y - v X Q X'(v y), tr(P P) = sum v^2 - 2 tr(Q X'V^3 X)
    + tr(Q A Q A), A = X'V^2 X, with v = 1/(sigma2_v + psi) (V^-1 diagonal).
    """
    v = 1.0 / (sigma2 + psi)
    q = np.linalg.inv((x.T * v) @ x)
    a = (x.T * v**2) @ x
    qa = q @ a
    py = v * y - v * (x @ (q @ (x.T @ (v * y))))
    score = -0.5 * (v.sum() - np.trace(qa)) + 0.5 * float(py @ py)
    information = 0.5 * (float(np.sum(v**2)) - 2 * np.trace(q @ ((x.T * v**3) @ x)) + np.trace(qa @ qa))
    return float(score / information)


def _gls(y: FloatArray, psi: FloatArray, x: FloatArray, sigma2: float) -> tuple[FloatArray, FloatArray]:
    v_inv = 1.0 / (sigma2 + psi)
    q = np.asarray(np.linalg.inv((x.T * v_inv) @ x), dtype=np.float64)
    return q @ (x.T @ (v_inv * y)), q


def _mse(psi: FloatArray, x: FloatArray, sigma2: float, q: FloatArray) -> FloatArray:
    total = sigma2 + psi
    shrink = psi / total  # 1 - gamma
    var_sigma2 = 2.0 / np.sum(total**-2)
    g1 = sigma2 * psi / total
    g2 = shrink**2 * np.einsum("ij,jk,ik->i", x, q, x)
    g3 = shrink**2 * var_sigma2 / total
    return np.asarray(g1 + g2 + 2 * g3, dtype=np.float64)


def small_area(estimates: list[Estimate], aux: pd.DataFrame | None) -> tuple[list[SmallAreaEstimate], list[str]]:
    """EBLUPs for every period and index; ``aux`` holds numeric covariates indexed by township."""
    out: list[SmallAreaEstimate] = []
    log: list[str] = []
    for period, index in dict.fromkeys((e.period, e.index) for e in estimates):
        towns = [e for e in estimates if e.period == period and e.index == index and e.stratum != COUNTY
                 and e.level == STRATUM]
        county = next((e.estimate for e in estimates if e.period == period and e.index == index
                       and e.stratum == COUNTY), None)
        rows, note = _fit_group(towns, county, aux)
        out += rows
        if note:
            log.append(f"period {period}, {index}: {note}")
    return out, log


def _fit_group(towns: list[Estimate], county: float | None, aux: pd.DataFrame | None,
               ) -> tuple[list[SmallAreaEstimate], str | None]:
    x_all = _design_matrix([e.stratum for e in towns], aux)
    fitted = np.array([e.estimate is not None and e.se is not None for e in towns])
    if fitted.sum() <= x_all.shape[1] + 1:
        return [], "too few townships with a direct estimate for a Fay-Herriot model"
    used = [e for e, f in zip(towns, fitted, strict=True) if f]
    direct = np.array([e.estimate for e in used], dtype=np.float64)
    try:
        psi = smoothed_psi(used, county)
        fit = fay_herriot(direct, psi, x_all[fitted])
    except AnalysisError as exc:  # supplementary figures: the direct estimates stand without them
        return [], f"no small-area estimates ({exc})"
    model, model_mse = np.empty(len(towns)), np.empty(len(towns))
    model[fitted], model_mse[fitted] = fit.eblup, fit.mse
    if (~fitted).any():
        model[~fitted], model_mse[~fitted] = synthetic(fit, x_all[~fitted], x_all[fitted], psi)
    rows = [SmallAreaEstimate(period=e.period, index=e.index, stratum=e.stratum, direct=e.estimate,
                              eblup=float(model[j]), mse=float(model_mse[j])) for j, e in enumerate(towns)]
    note = "sigma2_v estimated as 0: the EBLUPs are the synthetic regression estimates" if fit.sigma2 == 0 \
        else None
    return rows, note


def smoothed_psi(used: list[Estimate], county: float | None) -> FloatArray:
    """The generalized sampling variances of the module docstring, one per township of ``used``."""
    variance = np.array([e.se for e in used], dtype=np.float64) ** 2
    n = np.array([e.n for e in used], dtype=np.float64)
    if used[0].kind == "share":
        p = np.array([e.estimate for e in used], dtype=np.float64)
        inside = (p > 0) & (p < 1)
        if county is None or not inside.any() or not 0 < county < 1:
            raise AnalysisError("no township's share lies strictly between 0 and 1 to pool a design effect from")
        deff = float(np.sum((variance * n)[inside]) / np.sum((p * (1 - p))[inside]))
        unit = deff * county * (1 - county)
    else:
        unit = float(np.mean(variance * n))
    if not unit > 0:
        raise AnalysisError("no township's direct estimate has a sampling variance to pool")
    return unit / n


def _design_matrix(townships: list[str], aux: pd.DataFrame | None) -> FloatArray:
    intercept = np.ones((len(townships), 1))
    if aux is None or aux.shape[1] == 0:
        return intercept
    missing = [t for t in townships if t not in aux.index]
    if missing:
        raise AnalysisError(f"small-area covariates: no row for township {missing[0]!r}")
    values = aux.loc[townships].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        row, col = np.argwhere(np.isnan(values))[0]
        raise AnalysisError(f"small-area covariates: township {townships[row]!r}, column "
                            f"{aux.columns[col]!r} is not a number")
    return np.column_stack([intercept, values])
