"""A round's fieldwork settings as one file: docs/examples/fieldwork.yaml is read by the dialer's
own parser, every bad value is refused naming its key and the reason, ``minyi survey settings``
shows the settings with the defaults filled in and sets them from a file (all or nothing, audited),
and ``minyi survey create --settings`` takes the same file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from cli_support import run, upgraded_database
from sqlalchemy import select
from typer.testing import Result

from dialer import fieldwork
from dialer.policy import DialPolicy, PolicyError
from survey.db import make_engine, session_factory, session_scope
from survey.models import AuditLog, Survey

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
EXAMPLE = EXAMPLES / "fieldwork.yaml"
TOWNSHIPS = ["HW01", "HW02", "HW03"]


def test_the_example_file_sets_every_kind_of_setting() -> None:
    work = fieldwork.read_file(EXAMPLE, TOWNSHIPS)
    policy = work.policy
    assert date(2026, 10, 10) in policy.windows.workdays and date(2026, 10, 4) in policy.windows.holidays
    assert policy.retry.max_per_day == 2 and policy.retry.rules["no_answer"].rotate == "least"
    assert [d.name for d in policy.retry.dayparts][0] == "wd_early"
    assert policy.pacing.trunks[0].caller_ids == ("+862787654321", "+862787654322")
    assert policy.pacing.abandon.cap == 0.03
    assert work.quotas == {"HW01": 40, "HW02": 30, "HW03": 30}


def test_what_is_shown_reads_back_as_the_same_settings() -> None:
    work = fieldwork.read_file(EXAMPLE, TOWNSHIPS)
    assert fieldwork.read(fieldwork.dump(work), TOWNSHIPS, name="shown") == work
    defaults = fieldwork.read("", TOWNSHIPS, name="empty")
    assert defaults.policy == DialPolicy() and defaults.quotas == {}
    assert "max_attempts: 8" in fieldwork.dump(defaults)


@pytest.mark.parametrize(("text", "message"), [
    ("pacing: {trunks: [{caller_ids: ['027-1234']}]}",
     "pacing.trunks[0].caller_ids[0]: '027-1234' is not a number in E.164 form"),
    ("pacing: {trunks: [{name: a, caller_ids: ['+862787654321']}, {name: b, caller_ids: ['+862787654321']}]}",
     "pacing.trunks: a caller ID is listed twice"),
    ("quotas: {HW09: 10}", "quotas: HW09 not a township of this survey (its townships: HW01, HW02, HW03)"),
    ("quotas: {HW01: -1}", "quotas.HW01: expected a number >= 0, got -1"),
    ("quotas: [40]", "quotas: expected an object"),
    ("retry: {max_attempts: 3}", "settings: unknown key(s) retry"),
    ("timezone: 8", "timezone: unknown time zone 8"),
    ("holidays: ['2026-02-30']", "holidays[0]: expected a date YYYY-MM-DD, got '2026-02-30'"),
    ("pacing: {abandon: {cap: high}}", "pacing.abandon.cap: expected a number >= 0, got 'high'"),
])
def test_a_bad_value_is_refused_naming_its_key_and_the_reason(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        fieldwork.read(text, TOWNSHIPS, name="f.yaml")
    assert str(err.value).startswith(message)


def test_a_yaml_error_names_the_line() -> None:
    with pytest.raises(fieldwork.FieldworkFileError, match=r"f\.yaml:3: not valid YAML"):
        fieldwork.read("pacing:\n  trunks: [a\nquotas: {}\n", TOWNSHIPS, name="f.yaml")


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return upgraded_database(tmp_path, monkeypatch)


def create(code: str, *extra: str) -> Result:
    return run("survey", "create", code, "--questionnaire", str(EXAMPLES / "questionnaire.yaml"),
               "--strata", str(EXAMPLES / "townships.csv"), "--population", str(EXAMPLES / "population.csv"),
               "--indices", str(EXAMPLES / "indices.yaml"), *extra)


def _stored(url: str) -> tuple[Survey, list[AuditLog]]:
    with session_scope(session_factory(make_engine(url))) as session:
        survey = session.scalars(select(Survey)).one()
        _ = [s.quota for s in survey.strata]
        logs = list(session.scalars(select(AuditLog).where(AuditLog.action == "fieldwork_set")))
        session.expunge_all()
        return survey, logs


def test_settings_are_shown_with_defaults_and_set_from_a_file_with_an_audit_row(url: str) -> None:
    assert create("HW").exit_code == 0
    shown = run("survey", "settings", "HW")
    assert shown.exit_code == 0, shown.output
    assert fieldwork.read(shown.output, TOWNSHIPS, name="shown").policy == DialPolicy()
    assert "HW01: 40" in shown.output

    result = run("survey", "settings", "HW", "--file", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    survey, logs = _stored(url)
    assert survey.calling_windows["workdays"] == ["2026-10-10"] and survey.retry_policy["max_per_day"] == 2
    assert len(logs) == 1 and logs[0].after is not None and "retry_policy" in logs[0].after
    assert fieldwork.read(run("survey", "settings", "HW").output, TOWNSHIPS, name="shown") \
        == fieldwork.read_file(EXAMPLE, TOWNSHIPS)
    assert "unchanged" in run("survey", "settings", "HW", "--file", str(EXAMPLE)).output


def test_nothing_is_stored_unless_the_whole_file_is_valid(url: str, tmp_path: Path) -> None:
    assert create("HW").exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("HW03: 30", "HW03: lots"), encoding="utf-8")
    result = run("survey", "settings", "HW", "--file", str(bad))
    assert result.exit_code == 2
    assert f"error: {bad}: quotas.HW03: expected a number >= 0, got 'lots'" in result.output
    survey, logs = _stored(url)
    assert survey.calling_windows == {} and not logs


def test_survey_create_takes_the_settings_file(url: str, tmp_path: Path) -> None:
    assert create("HW", "--settings", str(EXAMPLE)).exit_code == 0
    survey, _ = _stored(url)
    assert survey.pacing["trunks"][0]["caller_ids"] == ["+862787654321", "+862787654322"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("quotas: {HW07: 3}\n", encoding="utf-8")
    result = create("HW2", "--settings", str(bad))
    assert result.exit_code == 2 and "quotas: HW07 not a township" in result.output
