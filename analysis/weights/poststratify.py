"""Post-stratification: every cell's weights scaled to its population count."""

from __future__ import annotations

import numpy as np

from analysis.grouping import FloatArray, IntArray


def poststratify(seed: FloatArray, groups: IntArray, targets: FloatArray) -> FloatArray:
    """Factors g per unit so that each group's seed total becomes its target (R ``postStratify``).

    Units in group -1 keep factor 1. Every group with a target must hold some seed weight;
    :mod:`analysis.weights.collapse` guarantees that before this is called.
    """
    inside = groups >= 0
    totals = np.bincount(groups[inside], weights=seed[inside], minlength=targets.size)
    if np.any((totals <= 0) & (targets > 0)):
        raise ValueError("a post-stratum with population has no sample weight")
    ratio = np.divide(targets, totals, out=np.ones_like(targets), where=totals > 0)
    g = np.ones_like(seed)
    g[inside] = ratio[groups[inside]]
    return g
