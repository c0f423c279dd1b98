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
    """Rows labelled 0..size-1 by group; a label of -1 puts a row in no group.

    Column sums of matrices go through a sparse indicator matrix (the fastest way for many columns);
    vector sums are ``reduceat`` over contiguous runs when the labels are sorted (the pipeline
    orders each period's rows by weighting cell, hence by township too), else ``bincount``.
    """

    def __init__(self, ids: IntArray, size: int) -> None:
        self.ids = np.asarray(ids, dtype=np.intp)
        self.size = int(size)
        member = self.ids >= 0
        self.count = np.bincount(self.ids[member], minlength=self.size)
        self._sorted = bool(member.all() and np.all(self.ids[1:] >= self.ids[:-1]))
        self._starts = (np.cumsum(self.count) - self.count)[self.count > 0]
        self._indicator: sparse.csr_matrix | None = None

    def sum(self, values: FloatArray) -> FloatArray:
        """Per-group sums of a vector (n,) or of each column of a matrix (n, m)."""
        if values.ndim > 1:
            return np.asarray(self._matrix() @ np.ascontiguousarray(values))
        if self._sorted:
            out = np.zeros(self.size)
            if self._starts.size:
                out[self.count > 0] = np.add.reduceat(values, self._starts)
            return out
        member = self.ids >= 0
        return bincount(self.ids[member], values[member], self.size)

    def spread(self, per_group: FloatArray) -> FloatArray:
        """Each row gets its group's value (0 for rows in no group)."""
        out = per_group[np.maximum(self.ids, 0)]
        if not self._sorted:
            out[self.ids < 0] = 0.0
        return out

    def _matrix(self) -> sparse.csr_matrix:
        if self._indicator is None:
            member = self.ids >= 0
            rows = np.flatnonzero(member)
            self._indicator = sparse.csr_matrix(
                (np.ones(rows.size), (self.ids[member], rows)), shape=(self.size, self.ids.size))
        return self._indicator
