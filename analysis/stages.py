"""Named stages of a run, so that a benchmark can time each one (``bench/bench_province.py``).

The pipeline enters ``stages("weights")``, ``stages("estimates")`` and so on around each part of
its work; a stage entered again (once per period) adds up. The default records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Stages = Callable[[str], AbstractContextManager[object]]


def unrecorded(name: str) -> AbstractContextManager[object]:
    """A stage nobody times."""
    return nullcontext()
