"""Fixtures for the IVR tests: a small synthetic world and a survey on its townships."""

from __future__ import annotations

import pytest
from sim_support import Fieldwork
from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.simulated import Behaviour, FrameMix, World
from ivr.channels.simulated.behaviour import DAYPARTS
from survey.clock import VirtualClock

# Everyone picks up and every number works: for scripted residents.
CERTAIN = Behaviour(pickup={part: dict.fromkeys(("18-29", "30-44", "45-59", "60+"), 1.0) for part in DAYPARTS},
                    busy=0.0)


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=11, townships=3)


@pytest.fixture(scope="session")
def reachable_world() -> World:
    return World(seed=11, townships=3, mix=FrameMix(non_working=0.0, fax=0.0))


@pytest.fixture
def fieldwork(sessions: sessionmaker[Session], clock: VirtualClock, world: World) -> Fieldwork:
    return Fieldwork(sessions, clock, world)


@pytest.fixture
def reachable(sessions: sessionmaker[Session], clock: VirtualClock, reachable_world: World) -> Fieldwork:
    return Fieldwork(sessions, clock, reachable_world)
