"""Accounts: password policy, argon2 hashes, duplicate names, audited changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from office.users import (
    DuplicateUserError,
    PasswordPolicyError,
    UnknownRoleError,
    UserError,
    create_user,
    find_user,
    set_password,
    update_user,
    verify_password,
)
from survey.clock import VirtualClock
from survey.models import AuditLog
from survey.vocabulary import Role


@pytest.mark.parametrize(("password", "reason"), [
    ("short1", "at least 10"),
    ("1234567890123", "all digits"),
    ("Zhang.Wei01", "user name"),
])
def test_password_policy_is_enforced(session: Session, clock: VirtualClock, password: str,
                                     reason: str) -> None:
    with pytest.raises(PasswordPolicyError, match=reason):
        create_user(session, "zhang.wei01", password, Role.INTERVIEWER, clock)


def test_create_user_hashes_with_argon2_and_audits(session: Session, clock: VirtualClock) -> None:
    user = create_user(session, "li.na", "correct horse 9", Role.OFFICIAL, clock,
                       township_scope=["T02", "T01"])
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert user.township_scope == ["T01", "T02"]
    assert verify_password(user, "correct horse 9")
    assert not verify_password(user, "correct horse 8")
    row = session.scalars(select(AuditLog).where(AuditLog.action == "user_created")).one()
    assert row.after is not None and row.after["role"] == Role.OFFICIAL
    assert "password_hash" not in row.after


def test_duplicate_names_and_unknown_roles_are_refused(session: Session, clock: VirtualClock) -> None:
    create_user(session, "wang", "a long password", Role.ADMIN, clock)
    with pytest.raises(DuplicateUserError, match="already exists"):
        create_user(session, "WANG", "a long password", Role.ADMIN, clock)
    with pytest.raises(UnknownRoleError, match="choose one of"):
        create_user(session, "zhao", "a long password", "boss", clock)
    with pytest.raises(UserError, match="no responsible unit"):
        create_user(session, "zhao", "a long password", Role.UNIT, clock, unit_id=999)
    assert find_user(session, " Wang ") is not None


def test_updates_are_audited_with_before_and_after(session: Session, clock: VirtualClock) -> None:
    admin = create_user(session, "admin1", "a long password", Role.ADMIN, clock)
    user = create_user(session, "chen", "a long password", Role.INTERVIEWER, clock)
    update_user(session, user, clock, actor_id=admin.id, role=Role.SUPERVISOR, township_scope=None,
                unit_id=None, active=True)
    row = session.scalars(select(AuditLog).where(AuditLog.action == "user_updated")).one()
    assert (row.before, row.after) == ({"role": Role.INTERVIEWER}, {"role": Role.SUPERVISOR})
    assert row.user_id == admin.id
    with pytest.raises(UserError, match="your own"):
        update_user(session, admin, clock, actor_id=admin.id, role=Role.ADMIN, township_scope=None,
                    unit_id=None, active=False)
    set_password(session, user, "another long one", clock, actor_id=admin.id)
    assert verify_password(user, "another long one")
