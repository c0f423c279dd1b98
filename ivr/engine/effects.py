"""What the engine asks its caller to store, in order, the moment it happens."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerGiven:
    question_id: str
    status: str  # survey.models.AnswerStatus value
    seq: int
    code: int | None = None
    codes: tuple[int, ...] | None = None
    value: float | None = None
    raw_input: str = ""
    duration_ms: int = 0
    reprompts: int = 0
    recording_path: str | None = None
    recording_seconds: float = 0.0
    recording_provider_id: str | None = None


@dataclass(frozen=True)
class StatusChanged:
    status: str  # survey.models.InterviewStatus value
    current_question: str | None


@dataclass(frozen=True)
class LanguageChosen:
    language: str


@dataclass(frozen=True)
class OperatorRequested:
    question_id: str | None
    transferred: bool


@dataclass(frozen=True)
class OptedOut:
    """The resident never wants to be called again: add the number to do-not-call now."""


@dataclass(frozen=True)
class CallbackRequested:
    slot: str | None  # "this_evening", "tomorrow_evening", "weekend"; None if no choice was made


@dataclass(frozen=True)
class AnswersCleared:
    """The resident chose to start over: forget the substantive answers (consent stays)."""

    question_ids: tuple[str, ...]


Effect = (AnswerGiven | StatusChanged | LanguageChosen | OperatorRequested | OptedOut | CallbackRequested
          | AnswersCleared)
