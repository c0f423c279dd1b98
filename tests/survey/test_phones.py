"""Which numbers a survey centre may dial: subscriber numbers of its own country; foreign and
special-service numbers only when admitted; emergency numbers never."""

from __future__ import annotations

import pytest

from survey.phones import PhoneError, PhoneProblem, normalise

P = PhoneProblem


@pytest.mark.parametrize(("raw", "expected"), [
    ("138 0013 8000", ("+8613800138000", "mobile")),
    ("+86 10 6552 9988", ("+861065529988", "landline")),
    ("0086 13800138000", ("+8613800138000", "mobile")),
])
def test_subscriber_numbers_of_the_region_are_normalised(raw: str, expected: tuple[str, str]) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(("raw", "problem", "admitted"), [
    ("", P.EMPTY, None),
    ("1380013", P.INVALID, None),
    ("abc", P.INVALID, None),
    ("4008123123", P.SERVICE, ("+864008123123", "unknown")),
    ("800 820 3123", P.SERVICE, ("+868008203123", "unknown")),
    ("95588", P.SERVICE, ("+8695588", "unknown")),
    ("95105588", P.SERVICE, ("+8695105588", "unknown")),
    ("96110", P.SERVICE, ("+8696110", "unknown")),
    ("10086", P.SERVICE, ("+8610086", "unknown")),
    ("+1 202 555 0123", P.FOREIGN, ("+12025550123", "unknown")),
    ("+44 7911 123456", P.FOREIGN, ("+447911123456", "mobile")),
    ("+49 151 23456789", P.FOREIGN, ("+4915123456789", "mobile")),
    ("+81 90 1234 5678", P.FOREIGN, ("+819012345678", "mobile")),
    ("00852 6123 4567", P.FOREIGN, ("+85261234567", "mobile")),
    ("110", P.EMERGENCY, None),
    ("120", P.EMERGENCY, None),
])
def test_refused_numbers_say_why_and_the_flags_admit_some(raw: str, problem: PhoneProblem,
                                                          admitted: tuple[str, str] | None) -> None:
    with pytest.raises(PhoneError) as refused:
        normalise(raw)
    assert refused.value.problem == problem
    if admitted is None:
        with pytest.raises(PhoneError):
            normalise(raw, allow_foreign=True, allow_service=True)
    else:
        assert normalise(raw, allow_foreign=True, allow_service=True) == admitted


def test_foreign_is_relative_to_the_region() -> None:
    assert normalise("7911 123456", "GB") == ("+447911123456", "mobile")
    with pytest.raises(PhoneError, match=r"foreign number \(\+86, CN\)"):
        normalise("+86 138 0013 8000", "GB")
