"""quotas.allocate: shares by what each township still needs, furthest behind first, largest
remainders (ties in township order), each share held to the township's cap."""

from __future__ import annotations

from dialer.quotas import Allotment, StratumProgress, allocate


def _township(stratum_id: int, code: str, quota: int, completes: int, dialable: int, *, fresh: int = 0,
              leased: int = 0) -> StratumProgress:
    return StratumProgress(stratum_id, code, code, quota, completes=completes, dialable=dialable, fresh=fresh,
                           leased=leased)


def test_shares_follow_what_is_left_largest_remainders_first_ties_in_township_order() -> None:
    strata = [
        _township(1, "T3", quota=10, completes=5, dialable=50, fresh=1),  # half done: 5 left
        _township(2, "T2", quota=10, completes=0, dialable=50, leased=15),  # 10 left, but 15 in flight
        _township(3, "T1", quota=0, completes=0, dialable=4),  # no target: weight 1, capped by its cases
        _township(4, "T4", quota=10, completes=10, dialable=2),  # filled: only what is left to settle
        _township(5, "T5", quota=10, completes=0, dialable=0),  # nothing to dial: left out
    ]
    # weights 1 (T1), 10 (T2), 5 (T3), 1 (T4) of 17; 10 calls: floors 0, 5, 2, 0 and the three
    # largest remainders .94 (T3), .88 (T2), then .59 for T1 and T4 alike: T1 comes first
    got = allocate(strata, 10, 2.0)
    assert got == [Allotment(3, share=1, cap=4, fresh=False), Allotment(2, share=5, cap=5, fresh=False),
                   Allotment(1, share=3, cap=10, fresh=True), Allotment(4, share=0, cap=2, fresh=False)]
    assert [a.stratum_id for a in got] == [3, 2, 1, 4] and all(type(a) is Allotment for a in got)


def test_no_township_with_cases_to_dial_allots_nothing() -> None:
    assert allocate([_township(1, "T1", quota=10, completes=0, dialable=0)], 100, 2.0) == []
