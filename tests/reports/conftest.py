"""Bulletin fixtures: the 21-township sample, a tiny edge-case county, and their rendered PDFs."""

from __future__ import annotations

import pytest
from report_helpers import Rendered, render, tiny_data

from reports.bulletin_data import BulletinData
from reports.sample import sample_bulletin_data


@pytest.fixture(scope="session")
def sample() -> BulletinData:
    return sample_bulletin_data()


@pytest.fixture(scope="session")
def sample_zh(sample: BulletinData) -> Rendered:
    return render(sample, "zh")


@pytest.fixture(scope="session")
def sample_en(sample: BulletinData) -> Rendered:
    return render(sample, "en")


@pytest.fixture(scope="session")
def tiny() -> BulletinData:
    return tiny_data()


@pytest.fixture(scope="session")
def tiny_zh(tiny: BulletinData) -> Rendered:
    return render(tiny, "zh")
