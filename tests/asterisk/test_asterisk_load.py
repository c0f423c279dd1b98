"""Fifty calls at once: each resident's keys end up in that resident's interview, never another's."""

from __future__ import annotations

from dataclasses import replace

from ari_fake import FakeAsterisk, Resident, answers
from asterisk_world import POSTGRES_ONLY, World, wait_until_idle

from survey.vocabulary import InterviewStatus

CALLS = 50


def _keys(i: int) -> tuple[str, ...]:
    """Resident ``i``'s answers: different enough that a digit sent to the wrong call shows."""
    return ("1", "1", "1", "1", str(1 + i % 3), str(1 + i % 3), str(1 + i % 5), str(1 + (i + 1) % 5),
            str(1 + (i + 2) % 5), str(1 + (i + 3) % 5), str(1 + (i + 4) % 5), "2", str(1 + i % 4), str(1 + i % 2),
            str(10 + i))


@POSTGRES_ONLY
def test_fifty_concurrent_interviews_each_get_their_own_digits(fake: FakeAsterisk, world: World,
                                                               open_channel) -> None:
    fake.prompt_s = 4.0  # rings long enough that every call is still running when the last is placed
    channel = open_channel()
    requests = []
    for i in range(CALLS):
        number = f"+86139{i:08d}"
        fake.residents[number] = Resident(answers(*_keys(i), during=i % 2 == 0), ring_s=40 + i % 7)
        requests.append(replace(world.dial(number), ring_timeout_s=60))
    for request in requests:
        assert channel.place_call(request) is None
    wait_until_idle(channel, timeout_s=60)
    assert fake.peak_calls == CALLS
    for i, request in enumerate(requests):
        keys = _keys(i)
        out = world.outcome(request.attempt_id)
        assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE, i
        satisfaction = [int(k) for k in keys[6:11]]
        assert [out.answers[q] for q in ("q_police", "q_court", "q_procuratorate", "q_justice", "q_overall")] \
            == satisfaction, i
        assert out.answers["q_safety"] == int(keys[4]) and out.answers["d_years"] == float(keys[14]), i
