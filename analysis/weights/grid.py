"""The weighting cells of one period: townships x joint levels of the weighting variables.

Cell index = township * K + (mixed-radix index of the levels, first variable most significant),
so one township's cells reshape to (levels of the first variable, combinations of the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.grouping import FloatArray, IntArray


@dataclass(frozen=True)
class CellGrid:
    by: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]  # per variable, in declared order (analysis.population.level_order)
    townships: tuple[str, ...]
    cell: IntArray  # per row

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(lv) for lv in self.levels)

    @property
    def per_township(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def size(self) -> int:
        return len(self.townships) * self.per_township

    def counts(self) -> FloatArray:
        return np.bincount(self.cell, minlength=self.size).astype(np.float64)

    def level_of(self, variable: int) -> IntArray:
        """Level index of ``variable`` for every cell of the grid."""
        within = np.arange(self.size) % self.per_township
        return np.asarray(np.unravel_index(within, self.shape)[variable], dtype=np.intp) \
            if self.by else np.zeros(self.size, dtype=np.intp)

    def township_of(self) -> IntArray:
        return np.arange(self.size, dtype=np.intp) // self.per_township

    def describe(self, cell: int) -> str:
        """``age_group=18-29, sex=M`` for a grid cell."""
        within = cell % self.per_township
        index = np.unravel_index(within, self.shape) if self.by else ()
        return ", ".join(f"{v}={self.levels[k][int(index[k])]}" for k, v in enumerate(self.by)) or "all"

    def describe_combo(self, combo: int) -> str:
        """The levels of the variables after the first for a column of the reshaped township block."""
        rest = self.shape[1:]
        index = np.unravel_index(combo, rest) if rest else ()
        return ", ".join(f"{v}={self.levels[k + 1][int(index[k])]}" for k, v in enumerate(self.by[1:]))


def build_grid(stratum: IntArray, townships: tuple[str, ...], by: tuple[str, ...],
               levels: tuple[tuple[str, ...], ...], codes: tuple[IntArray, ...]) -> CellGrid:
    """Grid cell of every row, from its stratum index and its level index on each variable."""
    shape = tuple(len(lv) for lv in levels)
    within = np.ravel_multi_index(codes, shape) if by else np.zeros(stratum.size, dtype=np.intp)
    per_township = int(np.prod(shape, dtype=np.int64))
    cell = stratum.astype(np.intp) * per_township + np.asarray(within, dtype=np.intp)
    return CellGrid(by, levels, townships, cell)
