"""The sampling design of one period: stratified SRSWOR with townships as strata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from analysis.errors import WeightingError
from analysis.grouping import FloatArray, Groups, IntArray


@dataclass(frozen=True)
class StratifiedDesign:
    """Strata are sorted township labels; rows carry their stratum's index."""

    labels: tuple[str, ...]
    stratum: IntArray  # per row
    n: NDArray[np.int64]  # respondents per stratum
    N: FloatArray  # adult population per stratum

    @property
    def base(self) -> FloatArray:
        """Design weight N_h / n_h of every row."""
        return (self.N / self.n)[self.stratum]

    @property
    def fpc(self) -> FloatArray:
        """1 - n_h/N_h per stratum."""
        return 1.0 - self.n / self.N

    @cached_property
    def groups(self) -> Groups:
        return Groups(self.stratum, len(self.labels))


def design(codes: IntArray, townships: NDArray[np.object_], totals: Mapping[str, float],
           period: str = "") -> StratifiedDesign:
    """Design for rows in townships ``townships[codes]`` (sorted labels); ``totals`` gives each N_h.

    Townships without rows here are left out of the design.
    """
    present, stratum = np.unique(codes, return_inverse=True)
    labels = townships[present]
    n = np.bincount(stratum, minlength=labels.size).astype(np.int64)
    unknown = [t for t in labels if t not in totals]
    if unknown:
        raise WeightingError(f"{_in(period)}township {unknown[0]!r} has respondents but no population counts",
                             township=str(unknown[0]))
    N = np.array([float(totals[t]) for t in labels])
    over = np.flatnonzero(n > N)
    if over.size:
        t = str(labels[over[0]])
        raise WeightingError(f"{_in(period)}township {t!r} has {n[over[0]]} respondents but a population "
                             f"of {N[over[0]]:g}", township=t)
    return StratifiedDesign(tuple(str(t) for t in labels), stratum.astype(np.intp), n, N)


def _in(period: str) -> str:
    return f"period {period}: " if period else ""
