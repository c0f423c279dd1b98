"""AAPOR outcome rates (Standard Definitions, 10th edition) from final disposition counts.

Codes are grouped as I = 1.1, P = 1.2, R = 2.1x, NC = 2.2x, O = 2.3x and 2.9x, UH = 3.1x,
UO = 3.2x and 3.9x, NE = 4.x (sub-codes such as 2.111 or 3.12 fall in their parent's group). The
10th edition's UR (3.20) is counted in UO here: with one scalar e every formula only uses
UH + UR + UO. e defaults to the proportional allocation (I+P+R+NC+O) / (I+P+R+NC+O+NE).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from analysis.errors import AnalysisError
from analysis.results import COUNTY, OutcomeRates

GROUPS = ("I", "P", "R", "NC", "O", "UH", "UO", "NE")
HEADLINE_RATES = ("RR1", "RR3", "COOP1", "REF1", "CON1")  # what a summary shows of the sixteen
_PREFIX = {"1.1": "I", "1.2": "P", "2.1": "R", "2.2": "NC", "2.3": "O", "2.9": "O",
           "3.1": "UH", "3.2": "UO", "3.9": "UO"}


def group_of(code: str) -> str:
    """The AAPOR aggregate symbol a disposition code belongs to."""
    text = code.strip()
    if text.startswith("4.") and len(text) > 2:
        return "NE"
    group = _PREFIX.get(text[:3])
    if group is None or (len(text) > 3 and not text[3:].rstrip("abcdefghijklmnopqrstuvwxyz").isdigit()):
        raise AnalysisError(f"{code!r} is not an AAPOR final disposition code this system groups "
                            "(1.1, 1.2, 2.1x, 2.2x, 2.3x, 2.9x, 3.1x, 3.2x, 3.9x, 4.x)")
    return group


def grouped(counts: Mapping[str, float]) -> dict[str, float]:
    out = dict.fromkeys(GROUPS, 0.0)
    for code, count in counts.items():
        if count < 0:
            raise AnalysisError(f"disposition {code!r} has a negative count ({count})")
        out[group_of(code)] += float(count)
    return out


def eligibility(g: Mapping[str, float]) -> float | None:
    known = g["I"] + g["P"] + g["R"] + g["NC"] + g["O"]
    return _div(known, known + g["NE"])


def outcome_rates(counts: Mapping[str, float], e: float | None = None, stratum: str = COUNTY) -> OutcomeRates:
    g = grouped(counts)
    if e is not None and not 0 <= e <= 1:
        raise AnalysisError(f"e must be between 0 and 1, not {e}")
    e_used = eligibility(g) if e is None else e
    interviews = g["I"] + g["P"]
    contacted = interviews + g["R"] + g["O"]
    known = interviews + g["R"] + g["NC"] + g["O"]
    unknown = g["UH"] + g["UO"]
    all_cases = known + unknown
    with_e = known + e_used * unknown if e_used is not None else None
    rates = {
        "RR1": _div(g["I"], all_cases), "RR2": _div(interviews, all_cases),
        "RR3": _div(g["I"], with_e), "RR4": _div(interviews, with_e),
        "RR5": _div(g["I"], known), "RR6": _div(interviews, known),
        "COOP1": _div(g["I"], contacted), "COOP2": _div(interviews, contacted),
        "COOP3": _div(g["I"], interviews + g["R"]), "COOP4": _div(interviews, interviews + g["R"]),
        "REF1": _div(g["R"], all_cases), "REF2": _div(g["R"], with_e), "REF3": _div(g["R"], known),
        "CON1": _div(contacted, all_cases), "CON2": _div(contacted, with_e), "CON3": _div(contacted, known),
    }
    return OutcomeRates(stratum=stratum, counts=g, e=e_used, rates=rates)


def rates_by_township(dispositions: Mapping[str, Mapping[str, float]], e: float | None = None,
                      ) -> list[OutcomeRates]:
    """Rates per township and for the county (``ALL``, the pooled counts)."""
    out = [outcome_rates(counts, e, town) for town, counts in sorted(dispositions.items())]
    pooled: dict[str, float] = {}
    for counts in dispositions.values():
        for code, count in counts.items():
            pooled[code] = pooled.get(code, 0.0) + float(count)
    return [*out, outcome_rates(pooled, e, COUNTY)]


def count_dispositions(cases: Iterable[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Township -> code -> count, from (township, final code) pairs, one per case."""
    out: dict[str, dict[str, float]] = {}
    for town, code in cases:
        bucket = out.setdefault(town, {})
        bucket[code] = bucket.get(code, 0.0) + 1.0
    return out


def _div(numerator: float, denominator: float | None) -> float | None:
    if denominator is None or denominator == 0:
        return None
    return numerator / denominator
