"""A test driver for the pure engine: a compact script language for what the resident does.

Tokens, separated by spaces: ``T`` silence (timeout), ``H`` hang up, ``R12`` a 12-second recording,
``R-`` a recording with nothing usable, ``~13#`` keys sent one at a time (ARI style), anything else
a whole entry of keys (Twilio ``<Gather>`` style), e.g. ``1``, ``13#``, ``*``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ivr.engine import (
    Answered,
    AnswerGiven,
    Digits,
    Effect,
    Engine,
    Event,
    HangUp,
    RecordingDone,
    Step,
    Timeout,
)
from survey.clock import VirtualClock
from survey.questionnaire import Questionnaire

# One answer per question that walks every question of the bundled questionnaire in one interview
# (q_safety 4 opens q_worries, q_suggest_yn 1 opens q_suggest).
WALK_ALL = {"consent": "1", "s_age": "1", "s_resident": "1", "q_safety": "4", "q_worries": "13#",
            "q_trend": "1", "q_police": "2", "q_court": "3", "q_procuratorate": "6", "q_justice": "1",
            "q_overall": "2", "q_suggest_yn": "1", "q_suggest": "R12", "d_age": "2", "d_sex": "1",
            "d_years": "12#"}


def parse(token: str) -> list[Event]:
    if token == "T":
        return [Timeout()]
    if token == "H":
        return [HangUp()]
    if token.startswith("R"):
        return [RecordingDone(None, 0.0) if token == "R-" else RecordingDone("rec/a.wav", float(token[1:]))]
    if token.startswith("~"):
        return [Digits(key, complete=False) for key in token[1:]]
    return [Digits(token)]


class Call:
    """One call: an engine, every step it returned and every effect it asked to store."""

    def __init__(self, questionnaire: Questionnaire, clock: VirtualClock, *, state: dict[str, Any] | None = None,
                 language: str | None = None, can_transfer: bool = False, interviewer: bool = False,
                 think_s: float = 2.0, recorded: bool = False) -> None:
        self.clock = clock
        self.think_s = think_s
        self.engine = Engine(questionnaire, clock, state=state, language=language, can_transfer=can_transfer,
                             interviewer=interviewer, recorded=recorded)
        self.steps: list[Step] = []
        self.effects: list[Effect] = []

    def send(self, event: Event) -> Step:
        if not isinstance(event, Answered):
            self.clock.advance(timedelta(seconds=self.think_s))
        step = self.engine.handle(event)
        self.steps.append(step)
        self.effects.extend(self.engine.drain_effects())
        return step

    def start(self) -> Step:
        return self.send(Answered())

    def run(self, script: str) -> Step:
        step = self.steps[-1] if self.steps else self.start()
        for token in script.split():
            for event in parse(token):
                step = self.send(event)
        return step

    def walk(self, answers: dict[str, str], stop_at: str | None = None) -> Step:
        """Answer each question as it comes from ``answers`` until ``stop_at`` is asked or the call ends."""
        step = self.steps[-1] if self.steps else self.start()
        while not self.engine.finished and step.question_id != stop_at:
            if step.question_id is None:
                raise AssertionError(f"walk stopped at a menu: {[p.key for p in step.prompts]}")
            step = self.run(answers[step.question_id])
        return step

    @property
    def asked(self) -> list[str]:
        """Question ids in the order they were put to the resident (repeats and re-prompts once each)."""
        seen: list[str] = []
        for step in self.steps:
            if step.question_id and any(p.key == f"{step.question_id}/text" for p in step.prompts):
                seen.append(step.question_id)
        return seen

    def answers(self) -> dict[str, AnswerGiven]:
        return {e.question_id: e for e in self.effects if isinstance(e, AnswerGiven)}

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    @property
    def prompt_keys(self) -> list[str]:
        return [p.key for p in self.steps[-1].prompts]
