"""How the bulletin and the dashboard print numbers."""

from __future__ import annotations

import pytest

from reports import formatting as fmt


@pytest.mark.parametrize(("x", "kind", "shown"), [
    (0.0123, "share", "+1.2"), (-0.0123, "share", "-1.2"), (-0.0004, "share", "0.0"), (0.0004, "share", "0.0"),
    (0.0, "share", "0.0"), (-0.04, "score", "0.0"), (-0.06, "score", "-0.1"), (2.25, "score", "+2.2"),
])
def test_a_change_has_its_sign_unless_it_rounds_to_nothing(x: float, kind: str, shown: str) -> None:
    assert fmt.signed(x, kind) == shown


def test_values_and_intervals_are_on_the_points_scale() -> None:
    assert fmt.value(0.8964, "share") == "89.6%"
    assert fmt.value(85.34, "score") == "85.3"
    assert fmt.ci(None) == fmt.DASH
