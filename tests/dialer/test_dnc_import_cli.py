"""``minyi dnc import FILE``: an outside do-not-call list put on the list every survey honours."""

from __future__ import annotations

import csv
from pathlib import Path

from dialer_fakes import VAULT, add_numbers, make_survey
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from minyi.cli import app
from survey.clock import VirtualClock
from survey.models import AuditLog, Case, Contact, DoNotCall
from survey.vocabulary import CaseStatus


def _invoke(args: list[str], url: str) -> Result:
    result = CliRunner().invoke(app, args, env={"MINYI_DATABASE_URL": url, "MINYI_SECRET_KEY": "test-secret"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _write(path: Path, header: str, cells: list[str]) -> Path:
    path.write_text("\n".join([f"{header},note", *(f"{c},x" for c in cells)]) + "\n", encoding="utf-8")
    return path


def _case_of(session: Session, number: str) -> Case:
    return session.scalars(select(Case).join(Contact, Contact.id == Case.contact_id)
                           .where(Contact.number_hash == VAULT.hash(number))).one()


def test_an_outside_list_closes_its_cases_in_every_survey_and_rejects_what_is_no_number(
        db_url: str, session: Session, clock: VirtualClock, tmp_path: Path) -> None:
    survey = make_survey(session, clock, quotas=(2, 2))
    numbers = add_numbers(session, survey, 3, clock.now())
    session.commit()
    first, second = numbers[0], numbers[4]
    written_otherwise = f"{second[3:6]} {second[6:10]} {second[10:]}"  # 138 0000 0004: no country code
    listing = _write(tmp_path / "拒访名单.csv", "电话", [first, written_otherwise, first, "+14155550100", "abc", ""])

    result = _invoke(["dnc", "import", str(listing)], db_url)

    assert result.exit_code == 0, result.output
    assert "6 row(s), 3 distinct number(s): 3 added to the do-not-call list, 0 already on it; 2 dialable" in result.output
    session.expire_all()
    assert {_case_of(session, n).final_disposition for n in (first, second)} == {"2.11"}
    assert _case_of(session, numbers[1]).status == CaseStatus.NEW  # not on the list: untouched
    assert session.scalar(select(func.count()).select_from(DoNotCall)) == 3
    with (tmp_path / "拒访名单.rejected.csv").open(encoding="utf-8-sig") as fh:
        rejected = list(csv.DictReader(fh))
    assert [r["电话"] for r in rejected] == ["abc", ""] and all(r["reason"] for r in rejected)
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "dnc_import")).one()
    assert audit.after == {"rows": 6, "numbers": 3, "added": 3, "rejected": 2, "cases_closed": 2}
    assert first not in str(audit.after)

    again = _invoke(["dnc", "import", str(listing)], db_url)
    assert again.exit_code == 0 and "0 added to the do-not-call list, 3 already on it; 0 dialable" in again.output


def test_a_list_without_numbers_adds_nothing_and_exits_2(db_url: str, session: Session, clock: VirtualClock,
                                                         tmp_path: Path) -> None:
    survey = make_survey(session, clock, quotas=(2,))
    add_numbers(session, survey, 2, clock.now())
    session.commit()
    no_column = _invoke(["dnc", "import", str(_write(tmp_path / "a.csv", "name", ["13800000000"]))], db_url)
    assert no_column.exit_code == 2 and "no phone-number column" in no_column.output
    all_bad = _invoke(["dnc", "import", str(_write(tmp_path / "b.csv", "phone", ["abc", "110"]))], db_url)
    assert all_bad.exit_code == 2 and "no row holds a phone number (2 rejected" in all_bad.output
    missing = _invoke(["dnc", "import", str(tmp_path / "none.csv")], db_url)
    assert missing.exit_code == 2
    assert session.scalar(select(func.count()).select_from(DoNotCall)) == 0



def test_the_rejects_file_is_never_the_list_itself(db_url: str, tmp_path: Path) -> None:
    listing = _write(tmp_path / "list.csv", "phone", ["13800000000", "abc"])
    refused = _invoke(["dnc", "import", str(listing), "--rejects", str(listing)], db_url)
    assert refused.exit_code == 2 and "--rejects must not be the list itself" in refused.output
    assert listing.read_text(encoding="utf-8").startswith("phone,note")
