"""Data-integrity checks: speeding, straight-lining, and townships that jump between periods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.grouping import FloatArray
from analysis.results import COUNTY, Change, IntegrityFlag


def speeders(durations: pd.DataFrame, minimum: Mapping[str, float], share: float = 0.5,
             period: str = "") -> list[IntegrityFlag]:
    """Respondents who answered at least ``share`` of their timed questions faster than the prompt.

    ``durations``: seconds from prompt start to answer, one row per respondent (index = id), one
    column per question (NaN = not asked). ``minimum``: the least time each prompt allows (its
    audio length up to the earliest point an answer can make sense).
    """
    timed = [q for q in durations.columns if q in minimum]
    if not timed:
        return []
    seconds = durations[timed].apply(pd.to_numeric, errors="coerce")
    floor = pd.Series({q: float(minimum[q]) for q in timed})
    asked = seconds.notna()
    fast = (seconds < floor) & asked
    n_asked = asked.sum(axis=1)
    n_fast = fast.sum(axis=1)
    flagged = (n_asked > 0) & (n_fast >= share * n_asked)
    return [IntegrityFlag(kind="speeding", period=period, stratum="", subject=str(rid),
                          detail=f"{int(n_fast[rid])} of {int(n_asked[rid])} answers faster than the prompt "
                                 f"allows ({', '.join(q for q in timed if fast.loc[rid, q])})")
            for rid in durations.index[flagged.to_numpy()]]


def straightliners(ids: Sequence[str], strata: Sequence[str], answers: Mapping[str, FloatArray],
                   period: str = "") -> list[IntegrityFlag]:
    """Respondents giving one and the same code to every item of a battery (e.g. the agency items).

    Only respondents who answered every item count; an identical pattern is legitimate for some,
    so the flag asks for a look, not for deletion.
    """
    if len(answers) < 2:
        return []
    codes = np.column_stack(list(answers.values()))
    complete = ~np.isnan(codes).any(axis=1)
    same = complete & (codes == codes[:, :1]).all(axis=1)
    items = ", ".join(answers)
    return [IntegrityFlag(kind="straightlining", period=period, stratum=str(strata[i]), subject=str(ids[i]),
                          detail=f"code {codes[i, 0]:g} on every item ({items})")
            for i in np.flatnonzero(same).tolist()]


def jumps(changes: Sequence[Change], z: float = 4.0) -> list[IntegrityFlag]:
    """Township changes more than ``z`` standard errors from 0: check the data before publishing."""
    out = []
    for c in changes:
        if c.stratum == COUNTY or c.change is None or not c.se:
            continue
        score = c.change / c.se
        if abs(score) > z:
            out.append(IntegrityFlag(kind="jump", period=c.period_to, stratum=c.stratum, subject=c.index,
                                     detail=f"{c.index} moved {c.change:+.4g} from {c.period_from} to "
                                            f"{c.period_to}, {score:+.1f} SE"))
    return out
