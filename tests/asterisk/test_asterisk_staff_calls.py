"""Staff-placed calls over Asterisk (calls/staff_lines.py, ivr/channels/asterisk/staff*.py): the
console asks Asterisk to ring the interviewer's phone, the Stasis app dials the resident when the
interviewer answers and bridges them; busy and no answer are coded by the system; a recorded call
plays the consent notice to the resident before the bridge and stores the recording; a supervisor
listens in through a snoop. The bridged and the recorded call run on PostgreSQL too."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ari_fake import FakeAsterisk, Resident
from asterisk_world import SQLITE_ONLY, World, wait_for
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from staff_desk import NUMBER, STAFF_PHONE, Desk, user_row

from calls import staff as ops
from calls import staff_lines
from ivr.channels.asterisk import AsteriskChannel
from ivr.channels.asterisk.staff_legs import leg_of
from survey.config import Settings
from survey.db import session_scope
from survey.models import (
    QC_RECORDING,
    AuditLog,
    CallAttempt,
    FollowUpTask,
    Recording,
    StaffCall,
)
from survey.vocabulary import Role, StaffCallEnd, StaffCallState, TaskStatus


@pytest.fixture
def settings(fake: FakeAsterisk, tmp_path: Path) -> Settings:
    """As the package's, with the phone keys the world encrypts its numbers with."""
    return Settings(ari_url=fake.url, ari_username=fake.username, ari_password=fake.password, ari_app=fake.app,
                    asterisk_endpoint="PJSIP/{number}@trunk", recordings_dir=str(tmp_path / "recordings"),
                    secret_key="test-secret")


@pytest.fixture
def desk(world: World, settings: Settings) -> Desk:
    return Desk(world, settings)


@pytest.fixture
def app(open_channel: Callable[..., AsteriskChannel], fake: FakeAsterisk) -> Iterator[AsteriskChannel]:
    """The Stasis app, served (as `minyi ari` would) by a channel of the dialer's."""
    channel = open_channel()
    wait_for(lambda: fake.connected, what="the app to register")
    yield channel


def _requests(fake: FakeAsterisk, key: str) -> list[dict[str, str]]:
    return [q for k, q in fake.requests if k == key]


def test_the_interviewer_answers_then_the_resident_and_they_are_bridged(
        fake: FakeAsterisk, desk: Desk, app: AsteriskChannel) -> None:
    fake.residents["1001"] = Resident(ring_s=0.5)  # the interviewer's softphone
    fake.residents[NUMBER] = Resident(ring_s=1.0, talk_s=40)
    call_id = desk.place()
    staff_leg = desk.call(call_id).provider_ref
    assert staff_leg is not None and leg_of(staff_leg) == ("staff", call_id)
    originate = _requests(fake, "channels.originate")
    assert originate[0]["endpoint"] == STAFF_PHONE and originate[0]["channelId"] == staff_leg
    talking = desk.wait_state(call_id, StaffCallState.TALKING)
    resident_leg = talking.resident_ref
    assert resident_leg is not None
    assert [q["endpoint"] for q in _requests(fake, "channels.originate")][1] == f"PJSIP/{NUMBER}@trunk"
    wait_for(lambda: fake.run(lambda: fake.bridge_of(resident_leg)) is not None, what="the resident bridged")
    bridge = fake.run(lambda: fake.bridge_of(resident_leg))
    assert bridge is not None and set(bridge.channels) == {staff_leg, resident_leg}

    desk.start_interview()  # the interview, conducted on the call
    fake.hang_up(NUMBER)
    ended = desk.wait_state(call_id, StaffCallState.ENDED)
    assert ended.end == StaffCallEnd.COMPLETED and ended.coded is None
    assert None not in (ended.placed_at, ended.staff_answered_at, ended.ringing_at, ended.answered_at, ended.ended_at)
    wait_for(lambda: not fake.live_channels(), what="both legs hung up")

    def tied(s: Session) -> tuple[Any, ...]:
        call = s.get(StaffCall, call_id)
        assert call is not None
        interview = staff_lines.interview_of(s, call)
        task = s.get(FollowUpTask, desk.task_id)
        assert task is not None
        live = ops.live_interview(s, task, desk.staff)
        return (interview.id if interview else None, live.id if live else None, call.attempt.answered_at,
                task.status)
    interview_id, live_id, answered_at, status = desk.read(tied)
    assert interview_id is not None and interview_id == live_id  # the interview stays tied to the call
    assert answered_at == ended.answered_at
    assert status == TaskStatus.IN_PROGRESS  # the interviewer records the outcome


@SQLITE_ONLY
@pytest.mark.parametrize(("resident", "end", "coded", "cause"), [
    (Resident(outcome="busy"), StaffCallEnd.BUSY, "busy", "17"),
    (Resident(outcome="no_answer"), StaffCallEnd.NO_ANSWER, "no_answer", "19"),
    (Resident(ring_s=45), StaffCallEnd.NO_ANSWER, "no_answer", "19"),  # rings out
])
def test_busy_and_no_answer_are_coded_by_the_system(fake: FakeAsterisk, desk: Desk, app: AsteriskChannel,
                                                    resident: Resident, end: str, coded: str, cause: str) -> None:
    fake.residents["1001"] = Resident(ring_s=0.2)
    fake.residents[NUMBER] = resident
    call_id = desk.place()
    ended = desk.wait_state(call_id, StaffCallState.ENDED)
    assert (ended.end, ended.coded, ended.hangup_cause) == (end, coded, cause)

    def coded_call(s: Session) -> tuple[Any, ...]:
        task, attempt = s.get(FollowUpTask, desk.task_id), s.get(CallAttempt, ended.attempt_id)
        assert task is not None and attempt is not None
        return task.status, attempt.outcome, attempt.ended_at is not None
    assert desk.read(coded_call) == (TaskStatus.DONE, coded, True)
    wait_for(lambda: not fake.live_channels(), what="the interviewer's phone hung up")


@SQLITE_ONLY
def test_an_unanswered_staff_phone_codes_nothing(fake: FakeAsterisk, desk: Desk, app: AsteriskChannel) -> None:
    fake.residents["1001"] = Resident(outcome="no_answer")
    call_id = desk.place()
    ended = desk.wait_state(call_id, StaffCallState.ENDED)
    assert (ended.end, ended.coded) == (StaffCallEnd.STAFF_UNANSWERED, None)
    assert len(_requests(fake, "channels.originate")) == 1  # the resident was never dialled
    assert desk.line.hang_up(staff_lines.ref(ended)) is False  # Asterisk has no leg of it any more
    task_status = desk.read(lambda s: s.get(FollowUpTask, desk.task_id).status)
    assert task_status == TaskStatus.IN_PROGRESS


def test_a_recorded_call_plays_the_consent_notice_first_and_keeps_the_recording(
        fake: FakeAsterisk, world: World, settings: Settings, app: AsteriskChannel, tmp_path: Path) -> None:
    desk = Desk(world, settings, record=True)
    fake.residents["1001"] = Resident(ring_s=0.2)
    fake.residents[NUMBER] = Resident(ring_s=0.5, talk_s=20)
    call_id = desk.place()
    talking = desk.wait_state(call_id, StaffCallState.TALKING)
    wait_for(lambda: any(k == "bridges.record" for k, _ in fake.requests), what="the recording")
    keys = [(k, q) for k, q in fake.requests]
    consent = next(i for i, (k, q) in enumerate(keys)
                   if k == "channels.play" and q["media"] == "sound:minyi/zh/msg/recording_consent")
    joined = next(i for i, (k, q) in enumerate(keys)
                  if k == "bridges.addChannel" and q["channel"] == talking.resident_ref)
    recorded = next(i for i, (k, _q) in enumerate(keys) if k == "bridges.record")
    assert consent < joined < recorded
    # talk for a while: Asterisk reports a recording's duration in whole seconds
    wait_for(lambda: any(r.duration >= 1.5 for r in list(fake.recordings.values())), what="a recorded second")
    fake.hang_up(NUMBER)
    desk.wait_state(call_id, StaffCallState.ENDED)

    def recording(s: Session) -> Recording | None:
        row = s.scalars(select(Recording).where(Recording.staff_call_id == call_id)).first()
        if row is not None:
            s.expunge(row)
        return row
    wait_for(lambda: (r := desk.read(recording)) is not None and bool(r.path), what="the recording brought home")
    row = desk.read(recording)
    assert row.question_id == QC_RECORDING and row.interview_id is None  # no interview was opened
    assert row.attempt_id is not None and row.download_status == "stored"
    assert row.provider_id and row.path == f"asterisk/{row.provider_id}.wav"  # as an interview's recordings
    assert (Path(settings.recordings_dir) / row.path).read_bytes().startswith(b"RIFF")
    assert row.duration_s > 0


@SQLITE_ONLY
def test_a_recording_asterisk_refuses_leaves_the_call_going_unrecorded(
        fake: FakeAsterisk, world: World, settings: Settings, app: AsteriskChannel) -> None:
    """Seen on a real Asterisk built without chan_bridge_media: the bridge's recording is refused
    (500). The interviewer and the resident go on talking; nothing is stored as a recording."""
    desk = Desk(world, settings, record=True)
    fake.bridge_record_failures = 1
    fake.residents["1001"] = Resident(ring_s=0.2)
    fake.residents[NUMBER] = Resident(ring_s=0.2, talk_s=20)
    call_id = desk.place()
    desk.wait_state(call_id, StaffCallState.TALKING)
    wait_for(lambda: any(k == "bridges.record" for k, _ in fake.requests), what="the refused recording")
    time.sleep(0.5)
    assert desk.read(lambda s: s.get(StaffCall, call_id).state) == StaffCallState.TALKING  # still bridged
    fake.hang_up(NUMBER)
    ended = desk.wait_state(call_id, StaffCallState.ENDED)
    assert ended.end == StaffCallEnd.COMPLETED, ended.hangup_cause
    assert desk.read(lambda s: s.scalars(select(Recording).where(Recording.staff_call_id == call_id)).all()) == []


@SQLITE_ONLY
def test_a_supervisor_listens_in_through_a_snoop(fake: FakeAsterisk, desk: Desk, app: AsteriskChannel) -> None:
    fake.residents["1001"] = Resident(ring_s=0.2)
    fake.residents["2001"] = Resident(ring_s=0.2)  # the supervisor's phone
    fake.residents[NUMBER] = Resident(ring_s=0.2)
    call_id = desk.place()
    talking = desk.wait_state(call_id, StaffCallState.TALKING)
    desk.listen(call_id)

    def snoop_bridge() -> tuple[Any, ...] | None:
        snoop = next((c for c in fake.channels.values() if c.snooped == talking.resident_ref), None)
        if snoop is None:
            return None
        bridge = fake.bridge_of(snoop.id)
        return (snoop.spy, snoop.whisper, sorted(bridge.channels) if bridge else None)
    wait_for(lambda: (fake.run(snoop_bridge) or (0, 0, None))[2] is not None, what="the snoop bridged")
    spy, whisper, members = fake.run(snoop_bridge)
    assert (spy, whisper) == ("both", "none")
    supervisor_leg = next(c for c in members if (leg_of(c) or ("",))[0] == "listen")
    assert fake.run(lambda: fake.channels[supervisor_leg].number) == "2001"
    assert talking.staff_endpoint == STAFF_PHONE and supervisor_leg not in fake.run(
        lambda: fake.bridge_of(talking.resident_ref or "").channels)  # the call's own bridge: only the two
    audit = desk.read(lambda s: s.scalars(select(AuditLog).where(AuditLog.action == "staff_call_listened")).one())
    assert (audit.user_id, audit.entity_id) == (desk.supervisor_id, str(call_id))

    desk.hang_up(call_id)
    ended = desk.wait_state(call_id, StaffCallState.ENDED)
    assert ended.end == StaffCallEnd.COMPLETED
    wait_for(lambda: not fake.live_channels(), what="every leg hung up, the supervisor's too")


@SQLITE_ONLY
def test_an_interviewer_cannot_call_on_another_interviewers_task(
        fake: FakeAsterisk, desk: Desk, sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        other = ops.Staff(user_row(s, "zhao", Role.INTERVIEWER, "PJSIP/1002", desk.clock), "zhao")
    with sessions() as s, pytest.raises(ops.ConsoleError, match="not yours"):
        staff_lines.place(s, s.get(FollowUpTask, desk.task_id), other, desk.line, desk.clock, desk.world.vault,
                          desk.questionnaires)
    assert not fake.requests or all(k != "channels.originate" for k, _ in fake.requests)


@SQLITE_ONLY
def test_without_the_stasis_app_the_call_is_refused_with_a_reason(fake: FakeAsterisk, desk: Desk) -> None:
    with pytest.raises(staff_lines.StaffLineError, match="minyi ari"):
        desk.place()
    assert desk.read(lambda s: s.scalars(select(StaffCall)).all()) == []
