"""The validated questionnaire: immutable, language-aware, with skip logic parsed.

Build one with :func:`survey.questionnaire.load` (YAML) or ``survey.questionnaire.xlsform``;
the engine, the CATI console, the exports and the analysis all read this model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from survey.questionnaire.conditions import Condition

Text = Mapping[str, str]

END_REFUSED = "refused"
END_SCREENED_OUT = "screened_out"
END_OPTED_OUT = "opted_out"
END_CALLBACK = "callback"

SINGLE, MULTIPLE, NUMBER, YESNO, OPEN, MESSAGE = "single", "multiple", "number", "yesno", "open", "message"
CHOICE_TYPES = (SINGLE, MULTIPLE, YESNO)
REQUIRED, NOT_REQUIRED = "required", "not_required"  # settings.consent

# System prompts every interview may need; a questionnaire's ``messages`` override them.
DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "language_menu": {"zh": "普通话请按1。For English, press 2.", "en": "普通话请按1。For English, press 2."},
    "invalid": {"zh": "对不起，您的按键无效。", "en": "Sorry, that key is not valid."},
    "timeout": {"zh": "对不起，没有收到您的按键。", "en": "Sorry, we did not hear a key."},
    "resume": {"zh": "欢迎回来，我们从上次中断的地方继续。", "en": "Welcome back. We will continue where we stopped."},
    "resume_menu": {"zh": "继续作答请按1，从头开始请按2。", "en": "To continue press 1. To start again press 2."},
    # said before the consent question when the centre records whole calls (MINYI_RECORD_CALLS)
    "call_recorded": {"zh": "为保证服务质量，本次通话将被录音。", "en": "This call is recorded for quality purposes."},
    "record_intro": {"zh": "请在提示音后讲话，讲完请按井号键。", "en": "Please speak after the tone, then press the hash key."},
    "number_hint": {"zh": "输入完毕请按井号键。", "en": "Press the hash key when you are done."},
    "multiple_hint": {"zh": "可多选，逐个按键，选完请按井号键。", "en": "Press each that applies, then the hash key."},
    "out_of_range": {"zh": "您输入的数字超出范围。", "en": "That number is out of range."},
    "operator": {"zh": "好的，工作人员会尽快与您联系。谢谢，再见。", "en": "A staff member will call you back soon. Thank you, goodbye."},
    "recording_consent": {"zh": "为了保证访问质量，本次通话将被录音。", "en": "This call is recorded for quality control."},
    "transfer": {"zh": "正在为您转接工作人员，请稍候。", "en": "Connecting you to a staff member, please hold."},
    "callback_menu": {
        "zh": "今晚回电请按1，明晚回电请按2，周末回电请按3。",
        "en": "For a call back this evening press 1, tomorrow evening press 2, at the weekend press 3.",
    },
    "callback_confirm": {"zh": "好的，我们会按您选择的时间再打来。谢谢，再见。", "en": "We will call you back then. Thank you, goodbye."},
    "goodbye_complete": {"zh": "访问结束，感谢您的支持，再见。", "en": "That is the end of the survey. Thank you, goodbye."},
    "goodbye_refused": {"zh": "好的，打扰您了，再见。", "en": "Sorry to have disturbed you. Goodbye."},
    "goodbye_screened_out": {"zh": "感谢您的接听，本次调查不需要您作答，再见。", "en": "Thank you. This survey does not need your answers. Goodbye."},
    "goodbye_opted_out": {"zh": "好的，我们今后不会再拨打您的电话，再见。", "en": "We will not call you again. Goodbye."},
}

CALLBACK_SLOTS = {1: "this_evening", 2: "tomorrow_evening", 3: "weekend"}


@dataclass(frozen=True)
class Choice:
    key: int
    code: int
    label: Text
    end: str | None = None
    goto: str | None = None
    missing: bool = False  # don't know / refused: kept in the weighting base, out of an index's base


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: Text
    reprompt: Text | None = None
    label: Text | None = None
    when: Condition | None = None
    choices: tuple[Choice, ...] = ()
    min: float | None = None
    max: float | None = None
    max_digits: int | None = None
    max_seconds: int = 60
    max_choices: int | None = None
    min_seconds: float = 0.0
    role: str | None = None

    def choice_for_key(self, key: int) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)

    def choice_for_code(self, code: int) -> Choice | None:
        return next((c for c in self.choices if c.code == code), None)

    @property
    def codes(self) -> frozenset[int]:
        return frozenset(c.code for c in self.choices)

    @property
    def collects_answer(self) -> bool:
        return self.type != MESSAGE


@dataclass(frozen=True)
class Settings:
    max_reprompts: int = 2
    input_timeout: float = 8.0
    repeat_key: str = "*"
    operator_key: str = "0"
    language_menu: bool = True
    consent: str = REQUIRED  # NOT_REQUIRED: no consent question needed to create a survey


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    title: Text = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    messages: Mapping[str, Text] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {q.id: i for i, q in enumerate(self.questions)})

    def index_of(self, question_id: str) -> int:
        index: dict[str, int] = getattr(self, "_by_id")  # noqa: B009
        if question_id not in index:
            raise KeyError(f"questionnaire {self.id} has no question {question_id!r}")
        return index[question_id]

    def question(self, question_id: str) -> Question:
        return self.questions[self.index_of(question_id)]

    def message(self, name: str, language: str) -> str:
        text = self.messages.get(name) or DEFAULT_MESSAGES[name]
        return text.get(language) or next(iter(text.values()))

    @property
    def weighting_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.role == "weighting")

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for q in self.questions:
            counts[q.type] = counts.get(q.type, 0) + 1
        return {"id": self.id, "version": self.version, "languages": list(self.languages),
                "questions": len(self.questions), "by_type": counts,
                "with_skip_logic": sum(1 for q in self.questions if q.when is not None or any(c.goto for c in q.choices))}


def text_in(text: Text | None, language: str) -> str:
    """``text`` in ``language``, falling back to any language it has."""
    if not text:
        return ""
    return text.get(language) or next(iter(text.values()))
