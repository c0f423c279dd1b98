"""Reliability, security and bad-input tests. They reuse the other packages' test helpers, so the
folders holding those are put on sys.path here (as pytest does for each folder it collects),
with the project root first: ``tests/web`` must not shadow the ``web`` package."""
# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
for folder in ("dialer", "asterisk", "twilio", "web", "analysis"):
    if str(TESTS / folder) not in sys.path:
        sys.path.append(str(TESTS / folder))
sys.path.insert(0, str(TESTS.parent))
