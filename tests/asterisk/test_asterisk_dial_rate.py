"""The dialer places Asterisk calls at the rate it is allowed even when Asterisk is slow to answer
each originate (issue 22): the originates overlap, and the pacer still spaces them."""

from __future__ import annotations

from ari_fake import FakeAsterisk, Resident
from asterisk_world import SCALE, SQLITE_ONLY, World
from sqlalchemy.orm import Session, sessionmaker

from dialer.frames import Frame, FrameRow
from dialer.sample import import_sample
from dialer.worker import Stop, WorkerOptions, WorkerReport, run_worker
from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing
from survey.clock import SystemClock, VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import Survey

REPLY_S = 0.2  # every originate answered this late: one at a time, at most 5 calls a second
ALLOWED_CPS = 40.0
SECONDS = 1.5


def _sample(sessions: sessionmaker[Session], world: World, fake: FakeAsterisk, clock: VirtualClock, n: int) -> None:
    """``n`` cases, always in a calling window; residents who let it ring for a minute."""
    numbers = [f"+86139{i:08d}" for i in range(n)]
    fake.residents.update({number: Resident([], ring_s=60) for number in numbers})
    with session_scope(sessions) as s:
        survey = s.get(Survey, world.survey_id)
        assert survey is not None
        survey.calling_windows = {"weekday": ["00:00-24:00"], "weekend": ["00:00-24:00"]}
        survey.field_start, survey.field_end = None, None
        survey.pacing = {**(survey.pacing or {}), "batch_size": 10}  # a batch is placed whole: stop soon
        rows = tuple(FrameRow(i + 2, {"number": number, "township": "T01"}) for i, number in enumerate(numbers))
        import_sample(s, survey, Frame("utf-8", {"number": "number", "township": "township"}, (), rows),
                      world.vault, clock.now())


def _dial(settings: Settings, sessions: sessionmaker[Session], world: World, overlap: int) -> WorkerReport:
    clock = SystemClock()  # the rate is real time's
    options = AsteriskOptions.from_settings(settings, timing=Timing(scale=SCALE))
    channel = AsteriskChannel(settings, sessions, clock, options=options, overlap=overlap)
    try:
        channel.preflight(world.survey_id)
        worker = WorkerOptions(survey="S1", owner=f"w{overlap}", lines=500, cps=ALLOWED_CPS, max_seconds=SECONDS)
        return run_worker(sessions, channel, clock, world.vault, worker)
    finally:
        channel.close()


@SQLITE_ONLY
def test_slow_originate_replies_do_not_hold_the_dialer_below_its_rate(settings: Settings, sessions: sessionmaker[Session],
                                                                      clock: VirtualClock, world: World,
                                                                      fake: FakeAsterisk) -> None:
    _sample(sessions, world, fake, clock, 150)
    fake.originate_delay_s = REPLY_S
    serial = _dial(settings, sessions, world, overlap=1)
    overlapping = _dial(settings, sessions, world, overlap=8)
    assert serial.stop_reason == overlapping.stop_reason == Stop.TIME_LIMIT
    serial_bound = 1 / REPLY_S
    assert serial.placed <= serial_bound * serial.elapsed_s + 1  # the fake's delay does bind one at a time
    rate = overlapping.placed / overlapping.elapsed_s
    assert rate > 2 * serial_bound  # overlapping: well past what one at a time can reach ...
    assert overlapping.placed <= ALLOWED_CPS * overlapping.elapsed_s + 1  # ... yet never faster than allowed
