"""Keeping call creation within the account's limits.

Twilio queues calls created faster than the account's calls-per-second limit (1 by default), so
a burst turns into silent delays; :class:`TokenBucket` paces creation to the configured CPS on
the given clock instead. A REST concurrency rejection (HTTP 429, error 20429) is not retried by
twilio-python; :class:`Backoff` spaces the retries.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

from survey.clock import Clock


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; :meth:`take` waits for one."""

    def __init__(self, rate: float, clock: Clock, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"calls per second must be positive, not {rate}")
        if burst < 1:
            raise ValueError(f"a burst below one call ({burst}) would never let a call through")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._updated = clock.now()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait (on the clock) until a token is free and use it; the seconds waited."""
        with self._lock:
            self._refill()
            wait = max(0.0, (1.0 - self._tokens) / self.rate)
            if wait > 0:
                self.clock.sleep(wait)
                self._refill()
            self._tokens -= 1.0
            return wait

    def _refill(self) -> None:
        now = self.clock.now()
        elapsed = (now - self._updated).total_seconds()
        self._updated = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)


class Backoff:
    """Bounded exponential back-off with jitter: the n-th delay lies between half and all of
    ``min(cap_s, base_s * 2**n)``, and there are ``retries`` of them."""

    def __init__(self, retries: int = 5, base_s: float = 1.0, cap_s: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if retries < 0 or base_s <= 0 or cap_s < base_s:
            raise ValueError(f"bad back-off: retries={retries}, base_s={base_s}, cap_s={cap_s}")
        self.retries = retries
        self.base_s = base_s
        self.cap_s = cap_s
        self.rng = rng or random.Random()

    def delays(self) -> Iterator[float]:
        for n in range(self.retries):
            ceiling = min(self.cap_s, self.base_s * 2**n)
            yield ceiling / 2 + self.rng.uniform(0, ceiling / 2)
