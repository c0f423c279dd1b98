"""The call-lifecycle service on its own: what every channel relies on it for."""

from __future__ import annotations

from sim_support import Fieldwork, Scripted
from sqlalchemy import select
from test_simulated_calls import PLAIN, channel

from calls.service import CallService
from survey.models import Interview
from survey.vocabulary import InterviewStatus


def test_a_call_answered_again_after_its_interview_completed_is_not_interviewed_twice(
        reachable: Fieldwork) -> None:
    """A crashed process's successor adopts a channel still up during the goodbye: the resident
    hears the closing words again, no new interview starts, and the call reports a complete."""
    case_id = reachable.add_case("+8613800000101")
    request = reachable.request(case_id)
    assert channel(reachable, Scripted(PLAIN)).place_call(request).interview_status == InterviewStatus.COMPLETE
    service = CallService(reachable.sessions, reachable.clock)
    call, turn = service.answer(request.attempt_id, can_transfer=False)
    service.close(call)
    assert turn.step.hangup and [p.key for p in turn.step.prompts] == ["msg/goodbye_complete"]
    assert turn.reported_status == InterviewStatus.COMPLETE
    with reachable.sessions() as s:
        interviews = s.scalars(select(Interview).where(Interview.case_id == case_id)).all()
        assert [iv.status for iv in interviews] == [InterviewStatus.COMPLETE]
