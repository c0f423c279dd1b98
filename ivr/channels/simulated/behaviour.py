"""How residents behave on the phone: when they pick up, and how they go through an interview.

The chance to pick up depends on the local day-part and the resident's age group (the young and
the working-age are out during weekday daytime), men pick up less often than women, and every
resident has a personal reachability. The rest are per-call or per-question probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from ivr.channels.simulated.county import AGE_GROUPS
from ivr.channels.simulated.world import Person

DAYPARTS = ("weekday_day", "weekday_evening", "weekend_day", "weekend_evening", "night")

DEFAULT_PICKUP: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "weekday_day": {"18-29": 0.08, "30-44": 0.12, "45-59": 0.25, "60+": 0.50},
    "weekday_evening": {"18-29": 0.18, "30-44": 0.30, "45-59": 0.45, "60+": 0.60},
    "weekend_day": {"18-29": 0.20, "30-44": 0.28, "45-59": 0.40, "60+": 0.55},
    "weekend_evening": {"18-29": 0.20, "30-44": 0.30, "45-59": 0.42, "60+": 0.55},
    "night": {"18-29": 0.06, "30-44": 0.05, "45-59": 0.04, "60+": 0.03},
})

RATES = ("male_pickup", "busy", "intro_hangup", "refuse", "callback", "opt_out", "break_off",
                  "operator", "invalid_key", "slow", "silent", "repeat", "start_over", "callback_silence")


def daypart(local: datetime) -> str:
    """The day-part of a local time: weekday/weekend × day (08-17) / evening (17-22), or night."""
    if local.hour < 8 or local.hour >= 22:
        return "night"
    week = "weekend" if local.weekday() >= 5 else "weekday"
    return f"{week}_{'day' if local.hour < 17 else 'evening'}"


@dataclass(frozen=True)
class Behaviour:
    """Probabilities and timings of residents' behaviour (defaults: a typical county CATI centre)."""

    pickup: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_PICKUP)
    male_pickup: float = 0.55  # odds ratio of a man picking up, against a woman
    busy: float = 0.04
    ring_s: tuple[float, float] = (4.0, 20.0)  # until a person picks up
    voicemail_after_s: float = 25.0
    intro_hangup: float = 0.08  # hangs up during the introduction
    refuse: float = 0.10  # at consent: declines (3)
    callback: float = 0.05  # at consent: asks to be called back (2)
    opt_out: float = 0.01  # at consent: never call again (9)
    break_off: float = 0.005  # per question: hangs up
    operator: float = 0.001  # per question: asks for a person (0)
    invalid_key: float = 0.03  # per question: a wrong key first
    slow: float = 0.04  # per question: no key within the timeout first
    silent: float = 0.004  # per opinion question: no key however often asked (the engine records no answer)
    repeat: float = 0.02  # per question: asks to hear it again (*) first
    start_over: float = 0.05  # at the resume menu: starts over
    callback_silence: float = 0.05  # at the callback menu: picks no time
    think_s: tuple[float, float] = (0.8, 4.0)
    older_slower: float = 1.4  # think-time factor for the 60+
    chars_per_second: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"zh": 4.5, "en": 14.0}))

    def __post_init__(self) -> None:
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Behaviour.{name} must be a probability between 0 and 1, not {value}")
        if self.refuse + self.callback + self.opt_out > 1.0:
            raise ValueError("Behaviour: refuse + callback + opt_out exceed 1")
        for name in ("ring_s", "think_s"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"Behaviour.{name} must be (low, high) with 0 <= low <= high, not {(low, high)}")
        for part in DAYPARTS:
            table = self.pickup.get(part)
            missing = [a for a in AGE_GROUPS if table is None or a not in table]
            if missing:
                raise ValueError(f"Behaviour.pickup[{part!r}] has no chance for age group(s) {', '.join(missing)}")
            bad = {a: p for a, p in table.items() if not 0.0 <= p <= 1.0} if table else {}
            if bad:
                raise ValueError(f"Behaviour.pickup[{part!r}]: not probabilities: {bad}")

    def pickup_chance(self, part: str, person: Person) -> float:
        """The table's chance for the day-part and age group, with the resident's reachability (and
        for men ``male_pickup``) applied to the odds, so that 0 and 1 stay certain."""
        chance = self.pickup[part][person.age_group]
        factor = person.reachability * (self.male_pickup if person.sex == "M" else 1.0)
        if chance >= 1.0:
            return 1.0
        odds = chance / (1.0 - chance) * factor
        return odds / (1.0 + odds)
