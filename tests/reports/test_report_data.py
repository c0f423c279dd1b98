"""Response rates and concern tallies computed from counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reports.bulletin_data import Benchmark, BulletinData, ConcernCell, Dispositions, Text
from reports.concerns import tally, tally_by


def test_rr1_and_rr3_follow_the_aapor_formulas() -> None:
    d = Dispositions(complete=200, partial=10, refusal_breakoff=300, non_contact=150, other=20,
                     unknown_household=400, unknown_respondent=50, unknown_other=30, not_eligible=500, e=0.5)  # fmt: skip
    assert d.rr1 == pytest.approx(200 / (210 + 470 + 480))
    assert d.rr3 == pytest.approx(200 / (210 + 470 + 0.5 * 480))


def test_rates_of_an_empty_sample_are_zero() -> None:
    assert Dispositions(0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5).rr3 == 0.0


def test_concern_tally_rates() -> None:
    cells = [
        ConcernCell("theft", "T1", "police", "accepted", 2),
        ConcernCell("theft", "T1", "police", "closed", 5, on_time=4),
        ConcernCell("fraud", "T2", "police", "revisited", 3, on_time=3, satisfied=2),
    ]
    total = tally(cells)
    assert (total.total, total.closed) == (10, 8)
    assert total.closure_rate == pytest.approx(0.8)
    assert total.on_time_rate == pytest.approx(7 / 8)
    assert total.satisfaction_rate == pytest.approx(2 / 3)
    by_category = tally_by(cells, lambda c: c.category)
    assert list(by_category) == ["theft", "fraud"]
    assert by_category["theft"].on_time_rate == pytest.approx(4 / 5)
    assert by_category["fraud"].closure_rate == 1.0


def test_rates_without_closed_cases_are_undefined() -> None:
    total = tally([ConcernCell("theft", "T1", "police", "assigned", 4)])
    assert total.closure_rate == 0.0
    assert total.on_time_rate is None and total.satisfaction_rate is None


def test_a_benchmark_must_name_a_defined_index(tiny: BulletinData) -> None:
    stray = Benchmark("happiness", Text("省", "province"), Text("2026年", "2026"), 0.9)
    with pytest.raises(ValueError, match="happiness"):
        replace(tiny, benchmarks=(stray,))
