"""Sums over groups of rows without Python loops over rows."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def bincount(ids: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """Weighted counts per id 0..size-1 (ids must be >= 0)."""
    return np.asarray(np.bincount(ids, weights=weights, minlength=size), dtype=np.float64)


class Groups:
    """Rows labelled 0..size-1 by group; a label of -1 puts a row in no group."""

    def __init__(self, ids: IntArray, size: int) -> None:
        self.ids = np.asarray(ids, dtype=np.intp)
        self.size = int(size)
        member = self.ids >= 0
        rows = np.flatnonzero(member)
        self._indicator = sparse.csr_matrix(
            (np.ones(rows.size), (self.ids[member], rows)), shape=(self.size, self.ids.size))
        self.count = np.bincount(self.ids[member], minlength=self.size)

    def sum(self, values: FloatArray) -> FloatArray:
        """Per-group sums of a vector (n,) or of each column of a matrix (n, m)."""
        if values.ndim == 1:
            member = self.ids >= 0
            return bincount(self.ids[member], values[member], self.size)
        return np.asarray(self._indicator @ values)

    def spread(self, per_group: FloatArray) -> FloatArray:
        """Each row gets its group's value (0 for rows in no group)."""
        out = per_group[np.maximum(self.ids, 0)]
        if (self.ids < 0).any():
            out[self.ids < 0] = 0.0
        return out
