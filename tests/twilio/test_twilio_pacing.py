"""The token bucket and the back-off, as properties over any rate and any call pattern."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.channels.twilio.pacing import Backoff, TokenBucket
from survey.clock import VirtualClock

START = datetime(2026, 11, 2, 10, 30)


@given(rate=st.floats(0.2, 50), idles=st.lists(st.floats(0, 3), min_size=1, max_size=40))
def test_no_second_ever_holds_more_calls_than_the_rate_allows(rate: float, idles: list[float]) -> None:
    clock = VirtualClock(START)
    bucket = TokenBucket(rate, clock)
    taken: list[datetime] = []
    for idle in idles:
        clock.advance(timedelta(seconds=idle))
        bucket.take()
        taken.append(clock.now())
    gaps = [(b - a).total_seconds() for a, b in zip(taken, taken[1:], strict=False)]
    assert all(gap >= 1 / rate - 1e-6 for gap in gaps)  # a burst of one: evenly spaced at most


@given(idle=st.floats(0, 100))
def test_a_free_token_is_used_without_waiting(idle: float) -> None:
    clock = VirtualClock(START)
    bucket = TokenBucket(1.0, clock)
    bucket.take()
    clock.advance(timedelta(seconds=1 + idle))
    assert bucket.take() == 0.0


@given(retries=st.integers(0, 12), base=st.floats(0.01, 5), extra=st.floats(0, 60), seed=st.integers())
def test_back_off_doubles_within_its_bounds(retries: int, base: float, extra: float, seed: int) -> None:
    cap = base + extra
    delays = list(Backoff(retries, base, cap, random.Random(seed)).delays())
    assert len(delays) == retries
    for n, delay in enumerate(delays):
        ceiling = min(cap, base * 2**n)
        assert ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize(("args", "message"), [
    ({"retries": -1}, "bad back-off"), ({"base_s": 0.0}, "bad back-off"), ({"base_s": 2.0, "cap_s": 1.0}, "bad back-off"),
])
def test_back_off_rejects_nonsense(args: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.5)])
def test_a_bucket_that_could_never_pass_a_call_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, VirtualClock(START), burst)
