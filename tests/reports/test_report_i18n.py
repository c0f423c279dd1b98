"""Section numbers of the Chinese bulletin: a bulletin of many sections still numbers them all."""

from __future__ import annotations

import pytest

from reports.i18n import chinese_numeral, section_heading


@pytest.mark.parametrize(("number", "written"), [(1, "一"), (9, "九"), (10, "十"), (11, "十一"), (20, "二十"),
                                                 (23, "二十三"), (99, "九十九")])
def test_chinese_section_numerals(number: int, written: str) -> None:
    assert chinese_numeral(number) == written


def test_a_twelfth_section_is_numbered_not_an_error() -> None:
    assert section_heading(12, "附录", "zh") == "十二、附录"
    with pytest.raises(ValueError):
        chinese_numeral(0)
