"""Turning a key entry into an answer, or into the reason it is not one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from survey.questionnaire import model as qm
from survey.vocabulary import AnswerStatus


@dataclass(frozen=True)
class Entry:
    status: str
    raw: str
    code: int | None = None
    codes: tuple[int, ...] | None = None
    value: float | None = None

    def value_for_logic(self) -> Any:
        """What skip-logic conditions see for this answer."""
        if self.codes is not None:
            return list(self.codes)
        if self.value is not None:
            return self.value
        return self.code


def parse_entry(q: qm.Question, raw: str) -> Entry | str:
    """An :class:`Entry`, or ``"invalid"`` / ``"out_of_range"`` (a message name) to re-prompt with.

    The entry's keys are kept without the ``#`` that ends it: Twilio's ``<Gather>`` never sends
    it, and on ARI an entry of the longest length ends without it, so every channel stores what
    the resident keyed in the same way."""
    keys = raw.rstrip("#")
    if q.type == qm.NUMBER:
        return _number(q, keys)
    if q.type == qm.MULTIPLE:
        return _multiple(q, keys)
    if q.type == qm.OPEN:
        return "invalid"
    if len(keys) != 1 or not keys.isdigit():
        return "invalid"
    choice = q.choice_for_key(int(keys))
    return Entry(AnswerStatus.ANSWERED, keys, code=choice.code) if choice else "invalid"


def _number(q: qm.Question, keys: str) -> Entry | str:
    if not keys.isdigit():
        return "invalid"
    value = int(keys)
    if (q.min is not None and value < q.min) or (q.max is not None and value > q.max):
        return "out_of_range"
    return Entry(AnswerStatus.ANSWERED, keys, value=float(value))


def _multiple(q: qm.Question, keys: str) -> Entry | str:
    if not keys.isdigit() or len(set(keys)) != len(keys):
        return "invalid"
    choices = [q.choice_for_key(int(k)) for k in keys]
    if any(c is None for c in choices):
        return "invalid"
    if q.max_choices is not None and len(choices) > q.max_choices:
        return "invalid"
    codes = tuple(sorted(c.code for c in choices if c is not None))
    return Entry(AnswerStatus.ANSWERED, keys, codes=codes)
