"""Whole interviews over the fake Asterisk: answers stored as given, barge-in, timeouts,
recordings (including the silent channel that only our stop ends)."""

from __future__ import annotations

from pathlib import Path

from ari_fake import FakeAsterisk, Mute, Press, Resident, Silent, Speak, answers
from ari_fake.residents import Reply
from asterisk_world import COMPLETE, SQLITE_ONLY, World, wait_until_idle
from sqlalchemy import select

from survey import aapor
from survey.models import Answer
from survey.vocabulary import AttemptStatus, CallStatus, InterviewStatus

NUMBER = "+8613800138000"


def test_a_whole_interview_is_stored_answer_by_answer(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents["+8613800138000"] = Resident(answers(*COMPLETE))
    channel = open_channel()
    request = world.dial(NUMBER)
    assert channel.place_call(request) is None
    assert channel.lines_in_use() == 1
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers == {"consent": 1, "s_age": 1, "s_resident": 1, "q_safety": 2, "q_trend": 1, "q_police": 1,
                           "q_court": 2, "q_procuratorate": 3, "q_justice": 1, "q_overall": 2, "q_suggest_yn": 2,
                           "d_age": 2, "d_sex": 1, "d_years": 15.0}
    assert out.attempt.status == AttemptStatus.COMPLETED
    assert out.attempt.outcome == CallStatus.ANSWERED
    assert out.attempt.temp_disposition == aapor.COMPLETE
    assert out.attempt.provider_call_id and out.attempt.provider_call_id.startswith(f"minyi-{request.attempt_id}-")
    assert out.attempt.answered_at is not None
    # Our hang-up: a soft ChannelHangupRequest whose "cause" is Asterisk's flag 32, then StasisEnd,
    # then ChannelDestroyed with 16 (tests/asterisk/recorded/our_hangup.json); 16 is what is stored.
    assert out.attempt.hangup_cause == "16"
    kinds = [k for k, _ in fake.requests if k not in ("channels.list", "applications.get")]  # reconciling on connect
    assert kinds[0] == "channels.originate" and "channels.answer" in kinds and kinds[-1] == "channels.hangup"
    originate = dict(fake.requests)["channels.originate"]
    assert originate["endpoint"] == "PJSIP/+8613800138000@trunk"
    assert originate["appArgs"] == str(request.attempt_id) and originate["callerId"] == "12340"
    assert originate["timeout"] == "30"


@SQLITE_ONLY
def test_a_key_during_a_prompt_stops_it_and_counts(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.prompt_s = 20.0  # long prompts (0.6 s): every key lands while one plays, even on a busy machine
    fake.residents[NUMBER] = Resident(answers(*COMPLETE, during=True))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_procuratorate"] == 3 and out.answers["d_years"] == 15.0
    # One prompt interrupted per entry (the second key of "15" finds none playing) ...
    assert len(fake.interrupted) == len(COMPLETE)
    # ... and the next question started without waiting for the stopped prompt's end.
    assert len(fake.latencies) >= len(COMPLETE) - 1
    assert sorted(fake.latencies)[len(fake.latencies) // 2] < 0.5


@SQLITE_ONLY
def test_timeouts_reprompt_and_end_a_multi_key_entry(fake: FakeAsterisk, world: World, open_channel) -> None:
    script = [Silent(), *answers(*COMPLETE[:4]), Silent(), *answers(*COMPLETE[4:14]), Press("7")]
    fake.residents[NUMBER] = Resident(script)
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_safety"] == 2
    assert out.answers["d_years"] == 7.0  # "7", then nothing: the inter-key timeout ends the entry
    with world.sessions() as s:
        reprompts = dict(s.execute(select(Answer.question_id, Answer.reprompts)
                                   .where(Answer.interview_id == out.interview.id)).all())
    assert reprompts["q_safety"] == 1 and reprompts["d_years"] == 0


def _with_comment(reply: Reply) -> list[Reply]:
    """The whole questionnaire, leaving a comment (q_suggest_yn = 1) recorded as ``reply``."""
    keys = list(COMPLETE)
    keys[11] = "1"
    script: list[Reply] = list(answers(*keys))
    script.insert(12, reply)
    return script


@SQLITE_ONLY
def test_a_spoken_comment_is_recorded_and_fetched(fake: FakeAsterisk, world: World, open_channel,
                                                  settings) -> None:
    fake.residents[NUMBER] = Resident(_with_comment(Speak(4, "#")))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_suggest"] == "answered"
    [recording] = out.recordings
    assert recording.question_id == "q_suggest" and recording.duration_s == 4.0
    assert recording.provider_id and recording.provider_id.startswith(f"minyi-{request.attempt_id}-q_suggest-")
    assert recording.path == f"asterisk/{recording.provider_id}.wav"  # inside recordings_dir
    assert recording.download_status == "stored" and recording.attempt_id == request.attempt_id
    assert (Path(settings.recordings_dir) / recording.path).read_bytes().startswith(b"RIFF")
    assert recording.provider_id not in fake.stored  # deleted at Asterisk once home (after_download)
    record = dict(fake.requests)["channels.record"]
    assert record == {"name": recording.provider_id, "format": "wav", "maxDurationSeconds": "60",
                      "maxSilenceSeconds": "5", "beep": "true", "terminateOn": "#", "ifExists": "overwrite"}
    assert "recordings.stop" not in dict(fake.requests)  # the resident's # ended it


@SQLITE_ONLY
def test_a_recording_without_audio_frames_ends_empty(fake: FakeAsterisk, world: World, open_channel) -> None:
    """As a real Asterisk 22.10.1 did with a Local channel waiting in the dialplan: no frame for
    2 x 2 s ends the recording ("No audio available"), done with duration 0: no answer."""
    fake.residents[NUMBER] = Resident(_with_comment(Mute()))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert "recordings.stop" not in dict(fake.requests)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_suggest"] == "no_answer" and out.recordings == []
    assert out.answers["d_years"] == 15.0


@SQLITE_ONLY
def test_a_silent_recording_is_stopped_by_us(fake: FakeAsterisk, world: World, open_channel) -> None:
    fake.residents[NUMBER] = Resident(_with_comment(Mute(ends_after_s=None)))  # an Asterisk that never ends it
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert "recordings.stop" in dict(fake.requests)  # nothing else would have ended it
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_suggest"] == "no_answer" and out.recordings == []
    assert out.answers["d_years"] == 15.0  # the interview went on after the empty recording
