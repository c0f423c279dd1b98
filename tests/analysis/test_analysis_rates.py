"""AAPOR outcome rates (Standard Definitions) from disposition counts."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisError
from analysis.rates import count_dispositions, group_of, outcome_rates, rates_by_township

COUNTS = {"1.1": 300, "1.2": 20, "2.11": 100, "2.12": 30, "2.21": 40, "2.221": 10, "2.32": 5, "2.90": 5,
          "3.12": 50, "3.13": 150, "3.14": 100, "3.90": 50, "4.31": 200, "4.80": 40, "4.51": 60}
# I=300 P=20 R=130 NC=50 O=10 UH=300 UO=50 NE=300


def test_codes_fall_in_their_aapor_groups() -> None:
    assert [group_of(c) for c in ("1.1", "1.2", "2.111a", "2.12", "2.22", "2.33", "2.90", "3.12", "3.21", "3.90",
                                  "4.31", "4.80")] == ["I", "P", "R", "R", "NC", "O", "O", "UH", "UO", "UO", "NE",
                                                       "NE"]
    for bad in ("1.0", "2.0", "5.1", "2.1x", "x"):
        with pytest.raises(AnalysisError, match="not an AAPOR final disposition code"):
            group_of(bad)


def test_rates_by_hand() -> None:
    r = outcome_rates(COUNTS)
    assert r.counts == {"I": 300, "P": 20, "R": 130, "NC": 50, "O": 10, "UH": 300, "UO": 50, "NE": 300}
    e = 510 / 810
    assert r.e == pytest.approx(e)
    known, unknown = 510, 350
    want = {
        "RR1": 300 / (known + unknown), "RR2": 320 / (known + unknown),
        "RR3": 300 / (known + e * unknown), "RR4": 320 / (known + e * unknown),
        "RR5": 300 / known, "RR6": 320 / known,
        "COOP1": 300 / 460, "COOP2": 320 / 460, "COOP3": 300 / 450, "COOP4": 320 / 450,
        "REF1": 130 / (known + unknown), "REF2": 130 / (known + e * unknown), "REF3": 130 / known,
        "CON1": 460 / (known + unknown), "CON2": 460 / (known + e * unknown), "CON3": 460 / known,
    }
    assert r.rates == pytest.approx(want)


def test_a_given_e_is_used_and_checked() -> None:
    assert outcome_rates(COUNTS, e=0.5).rates["RR3"] == pytest.approx(300 / (510 + 175))
    with pytest.raises(AnalysisError, match="e must be between 0 and 1"):
        outcome_rates(COUNTS, e=1.5)


def test_empty_denominators_are_none_not_errors() -> None:
    r = outcome_rates({"3.13": 10})
    assert r.e is None and r.rates["RR1"] == 0 and r.rates["RR3"] is None and r.rates["COOP1"] is None


def test_rates_per_township_and_pooled_for_the_county() -> None:
    cases = [("A", "1.1"), ("A", "2.11"), ("A", "4.31"), ("B", "1.1"), ("B", "1.1"), ("B", "3.13")]
    rows = rates_by_township(count_dispositions(cases))
    assert [r.stratum for r in rows] == ["A", "B", "ALL"]
    assert rows[0].rates["RR1"] == pytest.approx(1 / 2)
    assert rows[1].rates["RR1"] == pytest.approx(2 / 3)
    assert rows[2].rates["RR1"] == pytest.approx(3 / 5) and rows[2].counts["NE"] == 1
