"""A survey's questionnaire is parsed once per process, even when many threads ask at once."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

import survey.questionnaire
from survey.questionnaire.loader import bundled_path
from survey.surveys import survey_questionnaire


def test_threads_asking_at_once_parse_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parse = survey.questionnaire.loads
    parsed: list[str] = []

    def slow_parse(source: str, **kwargs: Any) -> Any:  # as slow as a parse on a busy machine
        parsed.append(source)
        time.sleep(0.05)
        return parse(source, **kwargs)

    monkeypatch.setattr(survey.questionnaire, "loads", slow_parse)
    source = bundled_path().read_text(encoding="utf-8") + f"\n# {time.time_ns()}\n"  # not cached by another test
    row = SimpleNamespace(questionnaire=SimpleNamespace(source=source, qid="bundled", version=1))
    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(survey_questionnaire(row))  # type: ignore[arg-type]

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(parsed) == 1
    assert len(got) == 8 and all(q is got[0] for q in got)
