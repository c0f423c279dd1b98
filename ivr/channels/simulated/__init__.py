"""Adapter: simulated telephony, a synthetic county whose residents answer the phone (or not) and go
through the real interview engine, seeded and on the engine's clock. ``make demo`` and most tests
use it.

Build it as ``SimulatedChannel(sessions, clock, World(seed), seed=...)``; the world also writes
the frame and strata CSV files and knows the true rates the survey estimates. Built from settings
(``minyi dial``), each survey gets a world of its own townships, rehearsed as a rehearsal file
says (docs/rehearsal.md).
"""

from ivr.channels.simulated.behaviour import Behaviour, daypart
from ivr.channels.simulated.channel import SimulatedChannel, from_settings
from ivr.channels.simulated.county import AGE_CODES, AGE_GROUPS, SEX_CODES, SEXES, Township
from ivr.channels.simulated.world import COUNTY, FrameMix, Person, SampleRow, World

__all__ = ["AGE_CODES", "AGE_GROUPS", "COUNTY", "SEXES", "SEX_CODES", "Behaviour", "FrameMix", "Person",
           "SampleRow", "SimulatedChannel", "Township", "World", "daypart", "from_settings"]
