"""Each step's TwiML rendered once a minute: the cached document with the call's own attempt id
and step number is the document rendered afresh; a new recording is played once the entry is a
minute old; a changed questionnaire's text is never served stale."""

from __future__ import annotations

from ivr.channels.twilio.twiml import AudioUrl, TwimlRenderer
from ivr.channels.twilio.twiml_cache import StepTwiml
from ivr.channels.twilio.urls import WebhookUrls
from ivr.engine import Collect, Prompt, Record, Step

RENDERER = TwimlRenderer(WebhookUrls("https://survey.example.gov.cn/"), voices={"zh": "Polly.Zhiyu-Neural"})
QUESTION = Prompt("q_safety/text", "您觉得安全吗？安全请按1。", "zh")
ASK = Step(prompts=(QUESTION,), collect=Collect(1, 1, None, 8.0), question_id="q_safety")
PLAYED = "https://survey.example.gov.cn/twilio/prompts/safety/zh/q_safety__text.wav"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recordings:
    """The recorded prompts of each questionnaire, counting the look-ups."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], str] = {}  # (questionnaire id, prompt key) → URL
        self.looked_up = 0

    def __call__(self, questionnaire_id: str) -> AudioUrl:
        self.looked_up += 1
        files = dict(self.files)
        return lambda prompt: files.get((questionnaire_id, prompt.key))


def test_a_cached_step_is_what_rendering_it_gives_for_each_call() -> None:
    recordings = Recordings()
    cache = StepTwiml(RENDERER, recordings, now=Clock())
    steps = [ASK, Step(prompts=(QUESTION,), record=Record(60)), Step(prompts=(QUESTION,), hangup=True)]
    for attempt_id, seq in [(1, 1), (12, 4), (7301846, 98), (1, 1)]:
        for step in steps:
            assert cache.render(step, "safety", attempt_id, seq) == RENDERER.render(step, attempt_id, seq)
    assert recordings.looked_up == len(steps)  # once a step, not once a call
    assert cache.hangup == RENDERER.hangup()


def test_a_new_recording_is_played_once_the_entry_is_a_minute_old() -> None:
    recordings, clock = Recordings(), Clock()
    cache = StepTwiml(RENDERER, recordings, now=clock)
    assert "<Say" in cache.render(ASK, "safety", 1, 1)
    recordings.files["safety", QUESTION.key] = PLAYED
    clock.t += 59
    assert "<Play" not in cache.render(ASK, "safety", 2, 1)
    clock.t += 1
    assert f"<Play>{PLAYED}</Play>" in cache.render(ASK, "safety", 3, 1)
    assert cache.render(ASK, "other", 3, 1) != cache.render(ASK, "safety", 3, 1)  # recordings are per questionnaire


def test_an_edited_questions_text_is_never_served_stale() -> None:
    cache = StepTwiml(RENDERER, Recordings(), now=Clock())
    cache.render(ASK, "safety", 1, 1)
    edited = Step(prompts=(Prompt(QUESTION.key, "您觉得治安好吗？", "zh"),), collect=ASK.collect, question_id="q_safety")
    assert "您觉得治安好吗？" in cache.render(edited, "safety", 1, 1)


def test_a_prompt_that_reads_out_a_marker_number_is_left_intact() -> None:
    cache = StepTwiml(RENDERER, Recordings(), now=Clock())
    step = Step(prompts=(Prompt("msg/x", "工单号 7301846529016384257", "zh"),), hangup=True)
    assert cache.render(step, "safety", 5, 6) == RENDERER.render(step, 5, 6)
    assert "7301846529016384257" in cache.render(step, "safety", 5, 6)
