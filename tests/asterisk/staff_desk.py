"""An interviewer at the CATI console with a staff call to place, for the Asterisk tests: the
console's calls (calls/staff_lines.py) made as the web makes them, each in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asterisk_world import World, wait_for
from sqlalchemy.orm import Session

from calls import staff as ops
from calls import staff_lines
from calls.questionnaires import Questionnaires
from ivr.channels.asterisk.staff import AsteriskStaffLine
from survey.clock import VirtualClock
from survey.config import Settings
from survey.db import session_scope
from survey.models import CallAttempt, FollowUpTask, StaffCall, StaffCallPolicy, User
from survey.vocabulary import AttemptStatus, Role, TaskKind

NUMBER = "+8613800138000"
STAFF_PHONE, SUPERVISOR_PHONE = "PJSIP/1001", "PJSIP/2001"


class Desk:
    """An interviewer holding a follow-up task on the world's case, with the console's calls."""

    def __init__(self, world: World, settings: Settings, *, record: bool = False, number: str = NUMBER,
                 staff_phone: str = STAFF_PHONE, supervisor_phone: str = SUPERVISOR_PHONE) -> None:
        self.world, self.sessions, self.clock = world, world.sessions, world.clock
        self.line = AsteriskStaffLine(settings)
        self.questionnaires = Questionnaires()
        with session_scope(self.sessions) as s:
            self.staff_id = user_row(s, "wang", Role.INTERVIEWER, staff_phone, world.clock)
            self.supervisor_id = user_row(s, "li", Role.SUPERVISOR, supervisor_phone, world.clock)
            s.add(StaffCallPolicy(id=1, provider="asterisk", record=record, tel_fallback=False))
        attempt = world.dial(number)  # the case, called once by the IVR
        with session_scope(self.sessions) as s:
            ivr_attempt = s.get(CallAttempt, attempt.attempt_id)
            assert ivr_attempt is not None
            ivr_attempt.status = AttemptStatus.COMPLETED
            s.add(FollowUpTask(survey_id=world.survey_id, case_id=attempt.case_id, kind=TaskKind.PARTIAL,
                               created_at=world.clock.now()))
        self.staff = ops.Staff(self.staff_id, "wang")
        with session_scope(self.sessions) as s:
            task = ops.claim_next(s, self.staff, self.clock)
            assert task is not None
            self.task_id = task.id

    def place(self) -> int:
        with session_scope(self.sessions) as s:
            return staff_lines.place(s, self._task(s), self.staff, self.line, self.clock, self.world.vault,
                                     self.questionnaires).id

    def start_interview(self) -> None:
        with session_scope(self.sessions) as s:
            ops.start_interview(s, self._task(s), self.staff, self.questionnaires.of(s, self.world.survey_id),
                                self.clock, "cati")

    def listen(self, call_id: int) -> None:
        with session_scope(self.sessions) as s:
            supervisor = s.get(User, self.supervisor_id)
            call = s.get(StaffCall, call_id)
            assert supervisor is not None and call is not None
            staff_lines.listen(s, call, supervisor, self.line, self.clock)

    def hang_up(self, call_id: int) -> None:
        with session_scope(self.sessions) as s:
            call = s.get(StaffCall, call_id)
            assert call is not None
            staff_lines.hang_up(s, call, self.staff, self.line, self.clock)

    def call(self, call_id: int) -> StaffCall:
        with self.sessions() as s:
            call = s.get(StaffCall, call_id)
            assert call is not None
            s.expunge(call)
            return call

    def wait_state(self, call_id: int, state: str, timeout_s: float = 15.0) -> StaffCall:
        wait_for(lambda: self.call(call_id).state == state, timeout_s, f"staff call {call_id} {state}")
        return self.call(call_id)

    def _task(self, s: Session) -> FollowUpTask:
        task = s.get(FollowUpTask, self.task_id)
        assert task is not None
        return task

    def read(self, fn: Callable[[Session], Any]) -> Any:
        with self.sessions() as s:
            return fn(s)


def user_row(s: Session, name: str, role: str, phone: str, clock: VirtualClock) -> int:
    user = User(username=name, password_hash="x", role=role, phone=phone, created_at=clock.now())
    s.add(user)
    s.flush()
    return user.id


