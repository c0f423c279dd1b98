"""The publication rule: withhold, flag, and rank only what is published."""

from __future__ import annotations

from dataclasses import replace

import pytest
from report_helpers import share, tiny_data

from analysis.results import Change, Estimate, Rank
from reports.bulletin_data import BulletinData, ReliabilityRule
from reports.reliability import Reliability, assess, published_change, township_rows

RULE = ReliabilityRule()


def score(n: int, half_width: float, n_eff: float | None = None) -> Estimate:
    return Estimate("p", "T", "i", "score", n, 80.0, half_width / 1.96, 80 - half_width, 80 + half_width,
                    1.0, 1.0, n if n_eff is None else n_eff)  # fmt: skip


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [
        (None, Reliability.SUPPRESSED),
        (share("T", None, 0), Reliability.SUPPRESSED),
        (score(29, 5), Reliability.SUPPRESSED),
        (score(100, 5, n_eff=29.5), Reliability.SUPPRESSED),
        (score(30, 5), Reliability.FLAGGED),
        (score(59, 5), Reliability.FLAGGED),
        (score(60, 10.5), Reliability.FLAGGED),
        (score(60, 9.9), Reliability.OK),
        (share("T", 0.5, 60), Reliability.FLAGGED),  # ±12.6 points
        (share("T", 0.9, 200), Reliability.OK),
    ],
)
def test_assess(estimate: Estimate | None, expected: Reliability) -> None:
    assert assess(estimate, RULE) is expected


def test_n_eff_falls_back_to_kish_deff_when_undefined() -> None:
    all_safe = Estimate("p", "T", "i", "share", 40, 1.0, 0.0, 0.91, 1.0, None, 1.5, None)
    assert assess(all_safe, RULE) is Reliability.SUPPRESSED  # 40 / 1.5 < 30
    assert assess(replace(all_safe, deff_kish=1.2), RULE) is Reliability.FLAGGED


def five_towns() -> BulletinData:
    """T2 is too small to publish although the analysis ranked it second."""
    data = tiny_data()
    values = {"T1": (0.95, 200), "T2": (0.93, 20), "T3": (0.90, 200), "T4": (0.85, 200), "T5": (0.80, 200)}
    towns = tuple(replace(data.townships[0], code=code) for code in values)
    estimates = tuple(share(code, p, n) for code, (p, n) in values.items())
    ranks = tuple(
        Rank("2026-10", "safety", code, i + 1, i + 1, i + 1, "same") for i, code in enumerate(values)
    )
    return replace(data, townships=towns, estimates=(*estimates, *data.estimates[:1]), ranks=ranks)


def test_withheld_townships_are_not_ranked_and_come_last() -> None:
    rows = township_rows(five_towns(), "safety")
    assert [(r.code, r.rank) for r in rows] == [("T1", 1), ("T3", 2), ("T4", 3), ("T5", 4), ("T2", None)]
    assert rows[-1].reliability is Reliability.SUPPRESSED
    for row in rows[:-1]:
        assert row.rank_low is not None and row.rank_high is not None
        assert 1 <= row.rank_low <= row.rank <= row.rank_high <= 4  # type: ignore[operator]
    assert [r.tier for r in rows] == ["same"] * 4 + [None]


def test_analysis_ranks_are_kept_when_they_cover_exactly_the_published_townships() -> None:
    data = five_towns()
    given = tuple(
        Rank("2026-10", "safety", code, rank, 1, 4, tier)
        for code, rank, tier in [("T1", 1, "above"), ("T3", 2, "same"), ("T4", 3, "same"), ("T5", 4, "below")]
    )
    rows = township_rows(replace(data, ranks=given), "safety")
    assert [(r.code, r.rank, r.rank_low, r.rank_high, r.tier) for r in rows[:4]] == [
        ("T1", 1, 1, 4, "above"), ("T3", 2, 1, 4, "same"), ("T4", 3, 1, 4, "same"), ("T5", 4, 1, 4, "below"),
    ]  # fmt: skip


def test_rank_interval_widens_with_the_standard_error() -> None:
    """Re-ranked over the four published townships with the analysis' joint rank sets: T1 (95%) is
    shown above T4 and T5 but not T3; with a large SE it is shown above none of them."""
    data = five_towns()
    noisy = replace(share("T1", 0.95, 200), se=0.08)

    def t1_interval(data: BulletinData) -> tuple[int | None, int | None]:
        row = next(r for r in township_rows(data, "safety") if r.code == "T1")
        return row.rank_low, row.rank_high

    assert t1_interval(data) == (1, 2)
    assert t1_interval(replace(data, estimates=(noisy, *data.estimates[1:]))) == (1, 4)


def test_change_is_hidden_when_either_end_is_withheld() -> None:
    data = tiny_data()
    periods = replace(data.periods, previous="2026-09")
    change = Change("A01", "safety", "2026-09", "2026-10", 0.05, 0.02, 0.01, 0.01, True)
    small_before = share("A01", 0.87, 25, period="2026-09")
    data = replace(data, periods=periods, changes=(change,), estimates=(*data.estimates, small_before))
    assert published_change(data, "safety", "2026-09", "A01") is None
    large_before = share("A01", 0.87, 125, period="2026-09")
    data = replace(data, estimates=(*data.estimates[:-1], large_before))
    assert published_change(data, "safety", "2026-09", "A01") == change
