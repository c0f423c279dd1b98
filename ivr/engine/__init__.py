"""Domain (pure: no storage, no provider): the interview engine, one interview as a deterministic state machine, free of any provider.

Events go in (:mod:`ivr.engine.events`), a :class:`~ivr.engine.steps.Step` comes out (what to
play, what input to collect, record, hang up or transfer), and :mod:`ivr.engine.effects` tell the
caller what to store. The state (:mod:`ivr.engine.state`) is typed and versioned; its stored form is
a JSON object, so an interview resumes on the next call, whichever release stored it.
"""

from ivr.engine.effects import (
    AnswerGiven,
    AnswersCleared,
    CallbackRequested,
    Effect,
    LanguageChosen,
    OperatorRequested,
    OptedOut,
    StatusChanged,
)
from ivr.engine.engine import Engine
from ivr.engine.events import Answered, Digits, Event, HangUp, RecordingDone, Timeout
from ivr.engine.state import InterviewState, Phase, StateFormatError
from ivr.engine.steps import Collect, Prompt, Record, Step

__all__ = ["Answered", "AnswerGiven", "AnswersCleared", "CallbackRequested", "Collect", "Digits", "Effect",
           "Engine", "Event", "HangUp", "InterviewState", "LanguageChosen", "OperatorRequested", "OptedOut", "Phase",
           "Prompt", "Record", "RecordingDone", "StateFormatError", "StatusChanged", "Step", "Timeout"]
