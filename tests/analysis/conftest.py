"""Fixtures for the analysis tests."""

from __future__ import annotations

import pytest
from analysis_helpers import SPEC_DICT

from analysis.spec import Spec, parse_spec


@pytest.fixture(scope="session")
def spec() -> Spec:
    return parse_spec(SPEC_DICT)
