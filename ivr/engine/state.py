"""The interview's state: what the engine keeps between events and between calls.

:class:`InterviewState` is what the engine works on; its stored form (:meth:`InterviewState.to_json`)
is the JSON object in ``Interview.state``, written after every event, from which the next event
or the next call resumes the interview. Version 2 (:data:`VERSION`) stores::

    {"version": 2,
     "phase": "question",            # new | language | resume | question | callback | ended
     "question": "q_police",         # the question asked last; null before the first and once complete
     "language": "zh",               # one of the questionnaire's languages
     "reprompts": 1,                 # re-prompts used on the current question or menu
     "buffer": "1",                  # keys of a number or list entry typed so far (one key at a time)
     "asked_at": "2026-11-02T11:00:04",  # when the current question was asked (naive UTC), or null
     "answers": {"consent": 1, "q_worries": [1, 3], "d_years": 12.0},  # what skip logic sees
     "seq": 3,                       # answers given so far, numbering AnswerGiven effects
     "status": "in_progress",        # a survey.vocabulary.InterviewStatus value
     "consent": true}                # agreed at the consent question; null before it is answered

An answer is a code (single choice), a list of codes (multiple choice), a number, or null (no
answer after the re-prompts, or a recording).

Upgrade path: :meth:`InterviewState.from_json` reads every version written so far and upgrades it
one step at a time, ``_UPGRADES[n - 1]`` taking version ``n`` to ``n + 1``, so a state stored by
any earlier release resumes; the next write stores the current version. A version newer than
:data:`VERSION` (written by a later release) is refused with :class:`StateFormatError` rather than
misread. To change the format: bump :data:`VERSION`, append a documented step to ``_UPGRADES``,
and keep a literal state of the old version in the tests (tests/ivr/test_engine_state.py).

Version 1 is the unversioned object the engine stored until the state had a version: the same
keys as version 2 without ``"version"``; every state stored before then has exactly those keys.
docs/interview-state.md says the same for readers of the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from survey.vocabulary import InterviewStatus

VERSION: Final = 2

AnswerValue = int | float | list[int] | None


class Phase(StrEnum):
    NEW = "new"  # not started, or between the language menu and the first question
    LANGUAGE = "language"  # the language menu
    RESUME = "resume"  # the continue-or-start-over menu of a resumed interview
    QUESTION = "question"  # waiting on ``question``
    CALLBACK = "callback"  # the call-back slot menu
    ENDED = "ended"  # this call is over (the interview may resume on the next one)


class StateFormatError(ValueError):
    """A stored state this engine cannot read: a version it does not know, or a malformed object."""


@dataclass(slots=True)
class InterviewState:
    language: str
    phase: Phase = Phase.NEW
    question: str | None = None
    reprompts: int = 0
    buffer: str = ""
    asked_at: datetime | None = None
    answers: dict[str, AnswerValue] = field(default_factory=dict)
    seq: int = 0
    status: InterviewStatus = InterviewStatus.IN_PROGRESS
    consent: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form, current version; it shares nothing mutable with this state."""
        return {"version": VERSION, "phase": self.phase, "question": self.question, "language": self.language,
                "reprompts": self.reprompts, "buffer": self.buffer,
                "asked_at": self.asked_at.isoformat() if self.asked_at else None,
                "answers": {qid: value.copy() if isinstance(value, list) else value
                            for qid, value in self.answers.items()},
                "seq": self.seq, "status": self.status, "consent": self.consent}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InterviewState:
        """The state stored as ``data`` (any version, upgraded); ``data`` is left as it was."""
        version = data.get("version", 1)
        if type(version) is not int or version < 1:
            raise StateFormatError(f"interview state version {version!r} is not a version number")
        if version > VERSION:
            raise StateFormatError(f"interview state version {version} is newer than this release reads "
                                   f"(up to {VERSION}): it was stored by a later release of Minyi")
        for upgrade in _UPGRADES[version - 1:]:
            data = upgrade(data)
        try:
            asked_at = data["asked_at"]
            return cls(language=data["language"], phase=Phase(data["phase"]), question=data["question"],
                       reprompts=data["reprompts"], buffer=data["buffer"],
                       asked_at=datetime.fromisoformat(asked_at) if asked_at else None,
                       answers={qid: value.copy() if isinstance(value, list) else value
                                for qid, value in data["answers"].items()},
                       seq=data["seq"], status=InterviewStatus(data["status"]), consent=data["consent"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StateFormatError(f"malformed interview state (version {version}): {exc!r}") from exc


def stored_state(column: Mapping[str, Any] | None) -> InterviewState | None:
    """The state in an ``Interview.state`` column, or None when the interview has none yet: NULL,
    or the empty object a new interview is created with."""
    return InterviewState.from_json(column) if column else None


def _v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 1 (unversioned) to 2: the keys are unchanged; the version is now stored."""
    return {**data, "version": 2}


# _UPGRADES[n - 1] takes a stored state of version n to version n + 1, returning a new object.
_UPGRADES: tuple[Callable[[Mapping[str, Any]], Mapping[str, Any]], ...] = (_v1_to_v2,)
