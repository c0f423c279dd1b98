"""Pseudo-inverses of stacks of small symmetric matrices."""

from __future__ import annotations

import numpy as np

from analysis.grouping import FloatArray

RANK_TOL = 1e-10


def pinvh(stack: FloatArray) -> FloatArray:
    """Pseudo-inverses of symmetric matrices (scipy's ``pinvh`` with ``rtol=RANK_TOL``, batched)."""
    eigenvalues, vectors = np.linalg.eigh(stack)
    cutoff = RANK_TOL * np.abs(eigenvalues).max(axis=-1, keepdims=True)
    inverse = np.divide(1.0, eigenvalues, out=np.zeros_like(eigenvalues), where=np.abs(eigenvalues) > cutoff)
    return np.asarray((vectors * inverse[..., None, :]) @ np.swapaxes(vectors, -1, -2))
