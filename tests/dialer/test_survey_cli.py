"""``minyi survey list`` and ``minyi survey show`` on SQLite and PostgreSQL, and every command's
one-line answer on a database that is not upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from dialer_fakes import add_numbers, make_survey
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from minyi.cli import app
from survey.clock import VirtualClock
from survey.db import head_revision, make_engine, session_factory, session_scope, upgrade
from survey.models import Case, Unit, User
from survey.vocabulary import CaseStatus

runner = CliRunner()


def _invoke(args: list[str], url: str) -> Result:
    result = runner.invoke(app, args, env={"MINYI_DATABASE_URL": url, "MINYI_SECRET_KEY": "test-secret"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows of the output by their first cell."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]
    return {row[0]: row[1:] for row in cells}


def _finalise(session: Session, codes: list[str]) -> None:
    """Give the first cases of township T01 these final codes."""
    cases = session.scalars(select(Case).where(Case.stratum.has(code="T01")).order_by(Case.id)).all()
    for case, code in zip(cases, codes, strict=False):
        case.status, case.final_disposition = CaseStatus.FINAL, code


@pytest.fixture
def round_(db_url: str, session: Session, clock: VirtualClock) -> str:
    """Survey S1 (two townships, quotas 2 and 3) with 4 numbers each; in T01 one complete, one
    refusal and one no-answer; survey S0 empty."""
    make_survey(session, clock, code="S0", quotas=(1,))
    survey = make_survey(session, clock, quotas=(2, 3))
    add_numbers(session, survey, 4, clock.now())
    _finalise(session, ["1.1", "2.11", "3.13"])
    session.commit()
    return db_url


def test_survey_list_shows_every_round_with_its_cases_and_completes(round_: str) -> None:
    result = _invoke(["survey", "list"], round_)
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert rows["S1"] == ["2026-11", "active", "safety v2026.1", "2", "8", "1"]
    assert rows["S0"] == ["2026-11", "active", "safety v2026.1", "1", "0", "0"]


def test_survey_list_on_an_empty_database_says_how_to_start(db_url: str) -> None:
    result = _invoke(["survey", "list"], db_url)
    assert result.exit_code == 0
    assert "no survey yet: create one with `minyi survey create`" in result.output


def test_survey_show_counts_cases_and_gives_rates_per_township(round_: str) -> None:
    result = _invoke(["survey", "show", "S1"], round_)
    assert result.exit_code == 0, result.output
    assert "S1 period 2026-11, status active; questionnaire safety v2026.1" in result.output
    assert "cases: final 3, new 5; total 8" in result.output
    cells = _rows(result.output)
    # T01: I=1, R=1, UH=1 (no answer) + 1 open case (3.11): RR1 1/4, COOP1 1/2, REF1 1/4, CON1 2/4
    assert cells["T01"] == ["镇1", "1 / 2", "25.0", "25.0", "50.0", "25.0", "50.0"]
    assert cells["T02"] == ["镇2", "0 / 3", "0.0", "—", "—", "0.0", "0.0"]  # e unknown: no RR3
    assert cells["ALL"] == ["", "1 / 5", "12.5", "12.5", "50.0", "12.5", "25.0"]


def test_survey_show_of_an_unknown_survey_exits_2(round_: str) -> None:
    result = _invoke(["survey", "show", "S9"], round_)
    assert result.exit_code == 2
    assert "no survey 'S9'" in result.output


NEEDS_DATABASE = [["survey", "list"], ["survey", "show", "S1"], ["sample", "import", "frame.csv", "--survey", "S1"],
                  ["dial", "--survey", "S1"], ["export", "--survey", "S1", "--out", "x.csv"],
                  ["report", "--survey", "S1", "--out", "x.pdf"], ["user", "add", "ann", "--role", "admin",
                                                                      "--password-stdin"]]


@pytest.mark.parametrize("args", NEEDS_DATABASE, ids=lambda a: " ".join(a[:2]))
def test_a_database_without_tables_says_to_upgrade(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "frame.csv").write_text("number\n13800138000\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/new.db"
    (tmp_path / "new.db").touch()  # an empty file: a database without tables
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    result = runner.invoke(app, args, input="pw\n", env={"MINYI_DATABASE_URL": url, "MINYI_SECRET_KEY": "s"})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: the database {url} has no Minyi tables: run `minyi db upgrade` " \
                                    "to create them"


@pytest.mark.parametrize("args", NEEDS_DATABASE, ids=lambda a: " ".join(a[:2]))
def test_a_database_file_that_does_not_exist_is_named_and_not_created(tmp_path: Path, args: list[str]) -> None:
    """A mistyped MINYI_DATABASE_URL (or a relative one run from another folder) used to leave an empty
    database and its .writers file behind and say it had no tables."""
    (tmp_path / "frame.csv").write_text("number\n13800138000\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/typo.db"
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    result = runner.invoke(app, args, input="pw\n", env={"MINYI_DATABASE_URL": url, "MINYI_SECRET_KEY": "s"})
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == (f"error: the database {url} does not exist ({tmp_path}/typo.db): "
                                               "run `minyi db upgrade` to create it")
    assert not list(tmp_path.glob("typo.db*"))


def test_an_older_schema_says_to_upgrade_and_upgrading_fixes_it(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    result = _invoke(["survey", "list"], db_url)
    assert result.exit_code == 2
    assert f"is at schema revision 0001, this Minyi needs {head_revision()}: run `minyi db upgrade`" in result.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert _invoke(["survey", "list"], db_url).exit_code == 0
    engine.dispose()


def test_a_newer_schema_is_not_taken_for_an_older_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(session_factory(engine)) as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    result = _invoke(["survey", "list"], url)
    assert result.exit_code == 2
    assert "schema revision 0099, which this Minyi does not know" in result.output


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/db.sqlite"
    result = _invoke(["survey", "list"], url)
    assert result.exit_code == 2
    assert result.output.strip() == f"error: cannot open the database {url}: unable to open database file"


def test_survey_create_refuses_a_questionnaire_without_consent(db_url: str, tmp_path: Path) -> None:
    strata = tmp_path / "strata.csv"
    strata.write_text("code,name_zh,name_en,quota\nT01,镇1,Town 1,5\n", encoding="utf-8")
    questionnaire = Path(__file__).parents[1] / "survey" / "questionnaires" / "no_consent.yaml"
    result = _invoke(["survey", "create", "S2", "--questionnaire", str(questionnaire), "--strata", str(strata)],
                     db_url)
    assert result.exit_code == 2
    assert f"{questionnaire}:5:1: no question has role: consent" in result.output
    assert "no survey yet" in _invoke(["survey", "list"], db_url).output


def test_a_unit_account_is_given_its_unit_by_code(db_url: str, session: Session) -> None:
    """`minyi user add --role unit` had no way to say the unit: the account saw no concerns."""
    session.add(Unit(code="PS01", name_zh="城关派出所"))
    session.commit()
    made = _add_user(db_url, "ps01", "--unit", "PS01")
    assert made.exit_code == 0, made.output
    assert "created unit account 'ps01' of unit PS01" in made.output
    unknown = _add_user(db_url, "ps02", "--unit", "PS99")
    assert unknown.exit_code == 2 and "no unit 'PS99'" in unknown.output
    bare = _add_user(db_url, "ps03")
    assert bare.exit_code == 0 and "give --unit CODE" in bare.output
    session.expire_all()
    users = {u.username: u for u in session.scalars(select(User))}
    assert users["ps01"].unit_id is not None and "ps02" not in users and users["ps03"].unit_id is None


def _add_user(url: str, name: str, *options: str) -> Result:
    return runner.invoke(app, ["user", "add", name, "--role", "unit", *options, "--password-stdin"],
                         input="a-long-pass-phrase-2026\n", env={"MINYI_DATABASE_URL": url})
