"""Shared data for the analysis tests (imported by name: tests/analysis is on sys.path)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

SPEC_DICT = {
    "indices": {
        "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
        "safety_score": {"question": "q_safety", "kind": "score",
                         "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0}, "exclude": [8, 9]},
        "police": {"question": "q_police", "kind": "share", "favourable": [1, 2], "exclude": [8]},
    }
}
