"""Staff accounts: creation with the password policy, argon2 hashes, and audited changes.

Flask-free: the web app and ``minyi user add`` both call these with a Session they own.
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
from collections.abc import Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey import audit
from survey.clock import Clock
from survey.errors import Refused
from survey.models import Unit, User
from survey.vocabulary import ROLES

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[\w.\-]{2,80}$")

_hasher = PasswordHasher()


class UserError(Refused):
    """An account that cannot be created or changed as asked; the message says why."""


class PasswordPolicyError(UserError):
    pass


class DuplicateUserError(UserError):
    pass


class UnknownRoleError(UserError):
    pass


def check_password_policy(password: str, username: str) -> None:
    """Refuse a password that breaks the policy, naming the first rule it breaks (a message id the
    web app translates)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError("the password must be at least %(n)d characters long", n=MIN_PASSWORD_LENGTH)
    if password.isdigit():
        raise PasswordPolicyError("the password must not be all digits")
    if password.strip().casefold() == username.strip().casefold():
        raise PasswordPolicyError("the password must not be the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """True if ``password`` is the user's; a hash made with older parameters is upgraded in place."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def check_login(user: User | None, password: str) -> User | None:
    """``user`` if it is an active account and ``password`` is its password. Exactly one argon2
    verification whatever the answer (no such account, an inactive one, a wrong password), so the
    time the answer takes does not tell which user names exist."""
    if user is None:
        _verify_nothing(password)
        return None
    return user if verify_password(user, password) and user.active else None


def _verify_nothing(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_unknowable_hash(_hasher), password)


@functools.cache
def _unknowable_hash(hasher: PasswordHasher) -> str:
    """A hash of a password nobody knows, made with ``hasher``'s parameters (so verifying against
    it costs what verifying a real hash costs)."""
    return hasher.hash(secrets.token_urlsafe(32))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UnknownRoleError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")


def _check_unit(session: Session, unit_id: int | None) -> None:
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise UserError("no responsible unit with id %(unit)s", unit=unit_id)


def _scope(township_scope: Sequence[str] | None) -> list[str] | None:
    codes = sorted({c.strip() for c in township_scope or () if c.strip()})
    return codes or None


def find_user(session: Session, username: str) -> User | None:
    """The account named ``username`` (case-insensitive)."""
    return session.scalars(select(User).where(func.lower(User.username) == username.strip().lower())).first()


_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[^\s{}]+")  # Tech/resource: PJSIP/1001, SIP/desk@pbx
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def check_phone(text: str) -> str:
    """A staff member's own phone (:attr:`User.phone`, rung for the calls the system places for
    them, docs/staff-calls.md): "" (none), an Asterisk endpoint ``Tech/resource`` (``PJSIP/1001``)
    or an E.164 number (``+8613800138000``)."""
    text = text.strip()
    if text and not (_ENDPOINT.fullmatch(text) or _E164.fullmatch(text)):
        raise UserError("%(phone)r is neither an Asterisk endpoint (PJSIP/1001) nor an E.164 number "
                        "(+8613800138000)", phone=text)
    return text


def create_user(session: Session, username: str, password: str, role: str, clock: Clock,
                township_scope: Sequence[str] | None = None, unit_id: int | None = None, *,
                display_name: str = "", actor_id: int | None = None, phone: str = "") -> User:
    """A new active account. Raises :class:`UserError` subclasses with a clear message."""
    username = username.strip()
    if not USERNAME.match(username):
        raise UserError("the user name must be 2-80 letters, digits, '.', '_' or '-'")
    _check_role(role)
    check_password_policy(password, username)
    if find_user(session, username) is not None:
        raise DuplicateUserError("a user named %(name)r already exists", name=username)
    _check_unit(session, unit_id)
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name.strip() or username, township_scope=_scope(township_scope),
                unit_id=unit_id, active=True, created_at=clock.now(), phone=check_phone(phone))
    session.add(user)
    session.flush()
    audit.record(session, clock, user_id=actor_id, action="user_created", entity="user", entity_id=user.id,
                 after=_public(user))
    return user


def update_user(session: Session, user: User, clock: Clock, *, actor_id: int | None, role: str,
                township_scope: Sequence[str] | None, unit_id: int | None, active: bool,
                display_name: str | None = None, phone: str | None = None) -> None:
    """Change an account's role, scope, unit, active flag or phone (audited with before and after)."""
    _check_role(role)
    phone = check_phone(phone) if phone is not None else user.phone
    _check_unit(session, unit_id)
    if actor_id == user.id and (not active or role != user.role):
        raise UserError("you cannot deactivate your own account or change your own role")
    before = _public(user)
    if user.active and not active:
        end_sessions(user)
    user.role, user.township_scope, user.unit_id, user.active = role, _scope(township_scope), unit_id, active
    user.phone = phone
    if display_name is not None:
        user.display_name = display_name.strip() or user.username
    old, new = audit.changed(before, _public(user))
    if new:
        audit.record(session, clock, user_id=actor_id, action="user_updated", entity="user",
                     entity_id=user.id, before=old, after=new)


def set_password(session: Session, user: User, password: str, clock: Clock, *, actor_id: int | None) -> None:
    """Replace the password (the audit row says that it changed, never what to)."""
    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    end_sessions(user)
    audit.record(session, clock, user_id=actor_id, action="password_set", entity="user", entity_id=user.id)


def end_sessions(user: User) -> None:
    """End every web session of the account, on every device (the caller commits)."""
    user.session_version += 1


def _public(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "display_name": user.display_name,
            "township_scope": user.township_scope, "unit_id": user.unit_id, "active": user.active,
            "phone": user.phone}
