"""Fixtures for the IVR tests: a small synthetic world and a survey on its townships."""

from __future__ import annotations

import pytest
from sim_support import Fieldwork
from sqlalchemy.orm import Session, sessionmaker

from ivr.channels.simulated import FrameMix, World
from survey.clock import VirtualClock


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
