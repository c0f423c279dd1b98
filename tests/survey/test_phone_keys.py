"""Phone keys of their own: the key file, the keys derived from MINYI_SECRET_KEY that older
databases were stored with, and ``minyi keys rotate`` (re-encryption, rehashing with the
do-not-call list following, resuming, audit rows)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from minyi.cli import app
from survey.clock import VirtualClock
from survey.config import Settings, load_settings
from survey.db import make_engine, session_factory, session_scope, upgrade
from survey.key_rotation import Rotation, rotate
from survey.models import AuditLog, Contact, DoNotCall, Job, JobFile
from survey.phones import PhoneKeyError, PhoneKeys, PhoneVault, configured_keys

NUMBERS = [f"+86138001380{i:02d}" for i in range(7)]
OLD_SECRET = "the-session-key-of-an-older-install"


def test_a_key_file_reads_back_what_it_holds() -> None:
    keys = PhoneKeys((Fernet.generate_key(), Fernet.generate_key()), PhoneKeys.generate().hashing)
    assert PhoneKeys.parse(keys.dump(), "phone.keys") == keys
    one_line = ", ".join([k.decode() for k in keys.encryption] + [keys.dump().splitlines()[-1]])
    assert PhoneKeys.parse(one_line, "MINYI_PHONE_KEY") == keys


@pytest.mark.parametrize(("text", "message"), [
    ("", "expected one or more encryption keys and exactly one hash: key, found 0 and 0"),
    (Fernet.generate_key().decode(), "found 1 and 0"),
    ("hash:" + "A" * 44, "found 0 and 1"),
    ("not-a-key hash:" + "A" * 44, "encryption key 1 is not a Fernet key"),
    (Fernet.generate_key().decode() + " hash:short", "at least 32 bytes"),
    (Fernet.generate_key().decode() + " hash:%%%%", "at least 32 bytes"),
])
def test_a_malformed_key_ring_is_refused_with_its_source_named(text: str, message: str) -> None:
    with pytest.raises(PhoneKeyError, match=message) as caught:
        PhoneKeys.parse(text, "phone.keys")
    assert str(caught.value).startswith("phone.keys: ")


def test_the_settings_name_one_source_of_keys(tmp_path: Path) -> None:
    ring = PhoneKeys.generate()
    key_file = tmp_path / "phone.keys"
    key_file.write_text(ring.dump())
    assert configured_keys(load_settings({"MINYI_PHONE_KEY_FILE": str(key_file)})) == ring
    assert configured_keys(load_settings({"MINYI_PHONE_KEY": ring.dump()})) == ring
    assert configured_keys(Settings(secret_key=OLD_SECRET)) == PhoneKeys.derived(OLD_SECRET)
    with pytest.raises(PhoneKeyError, match="not both"):
        configured_keys(Settings(phone_key=ring.dump(), phone_key_file=str(key_file)))
    with pytest.raises(PhoneKeyError, match="cannot read MINYI_PHONE_KEY_FILE .*missing.keys"):
        configured_keys(Settings(phone_key_file=str(tmp_path / "missing.keys")))


def test_the_phone_keys_are_not_the_session_key() -> None:
    ring = PhoneKeys.generate()
    token = PhoneVault(ring).encrypt(NUMBERS[0])
    with pytest.raises(ValueError, match="none of the phone keys"):
        PhoneVault(OLD_SECRET).decrypt(token)


def _stored_before_phone_keys(sessions: sessionmaker[Session], *, opted_out: int = 2,
                              unmatched: bool = False) -> None:
    old = PhoneVault(OLD_SECRET)
    with session_scope(sessions) as s:
        for number in NUMBERS:
            s.add(Contact(**old.contact_row(number, "mobile")))
        for number in NUMBERS[:opted_out]:
            s.add(DoNotCall(number_hash=old.hash(number), added_at=datetime(2026, 1, 1), source="ivr_opt_out"))
        if unmatched:
            s.add(DoNotCall(number_hash="f" * 64, added_at=datetime(2026, 1, 1), source="import"))


def _next_ring(*, new_hash: bool) -> PhoneKeys:
    """What ``minyi keys generate --next [--new-hash]`` prints for an install without phone keys."""
    old, fresh = PhoneKeys.derived(OLD_SECRET), PhoneKeys.generate()
    return PhoneKeys(fresh.encryption + old.encryption, fresh.hashing if new_hash else old.hashing)


def _state(sessions: sessionmaker[Session], vault: PhoneVault) -> tuple[list[str], list[bool], set[str]]:
    with sessions() as s:
        contacts = s.scalars(select(Contact).order_by(Contact.id)).all()
        return ([vault.decrypt(c.number_enc) for c in contacts], [vault.is_current(c.number_enc) for c in contacts],
                set(s.scalars(select(DoNotCall.number_hash))))


@pytest.mark.parametrize("new_hash", [False, True], ids=["same-hash", "new-hash"])
def test_rotation_moves_every_number_to_the_new_key(sessions: sessionmaker[Session], clock: VirtualClock,
                                                    new_hash: bool) -> None:
    _stored_before_phone_keys(sessions)
    vault = PhoneVault(_next_ring(new_hash=new_hash))
    assert _state(sessions, vault)[1] == [False] * len(NUMBERS)  # readable through the older key
    done = rotate(sessions, vault, clock, batch=3)
    assert done == Rotation(checked=7, reencrypted=7, rehashed=7 if new_hash else 0)
    numbers, current, listed = _state(sessions, PhoneVault(PhoneKeys(vault.keys.encryption[:1], vault.keys.hashing)))
    assert numbers == NUMBERS and all(current)  # the older key can go
    assert listed == {vault.hash(n) for n in NUMBERS[:2]}  # the do-not-call list follows the hashes
    assert rotate(sessions, vault, clock) == Rotation(checked=7)  # nothing left to do
    with sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.entity == "phone_keys").order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["phone_keys_rotation_started", "phone_keys_rotated"] * 2
    assert rows[1].after == {"checked": 7, "reencrypted": 7, "rehashed": 7 if new_hash else 0, "files": 0}
    assert rows[1].entity_id == vault.keys.fingerprint()
    assert vault.keys.encryption[0].decode() not in str([(r.entity_id, r.after) for r in rows])


def test_rotation_reencrypts_the_files_of_background_jobs(sessions: sessionmaker[Session],
                                                         clock: VirtualClock) -> None:
    old = PhoneVault(OLD_SECRET)
    frame = "电话,乡镇\n13912345678,T01\n".encode()
    with session_scope(sessions) as s:
        job = Job(kind="sample_import", created_at=clock.now())
        s.add(job)
        s.flush()
        s.add_all([JobFile(job_id=job.id, role=role, name=f"{role}.csv", size=len(frame), data=old.seal(frame))
                   for role in ("upload", "rejected")])
    vault = PhoneVault(_next_ring(new_hash=False))
    assert rotate(sessions, vault, clock).files == 2
    current_only = PhoneVault(PhoneKeys(vault.keys.encryption[:1], vault.keys.hashing))
    with sessions() as s:
        assert [current_only.unseal(f.data) for f in s.scalars(select(JobFile))] == [frame, frame]
    assert rotate(sessions, vault, clock).files == 0  # nothing left to do


def test_a_stopped_rotation_resumes(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _stored_before_phone_keys(sessions)
    vault = PhoneVault(_next_ring(new_hash=True))

    def stop(done: Rotation) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate(sessions, vault, clock, batch=3, progress=stop)
    assert _state(sessions, vault)[1] == [True] * 3 + [False] * 4  # the first batch is committed
    assert rotate(sessions, vault, clock, batch=3) == Rotation(checked=7, reencrypted=4, rehashed=4)
    assert _state(sessions, vault)[2] == {vault.hash(n) for n in NUMBERS[:2]}


def test_hashes_stay_when_the_list_holds_numbers_not_stored(sessions: sessionmaker[Session],
                                                            clock: VirtualClock) -> None:
    _stored_before_phone_keys(sessions, unmatched=True)
    with pytest.raises(PhoneKeyError, match="1 do-not-call entries have no stored number"):
        rotate(sessions, PhoneVault(_next_ring(new_hash=True)), clock)
    assert rotate(sessions, PhoneVault(_next_ring(new_hash=False)), clock).reencrypted == 7


def test_a_number_no_key_decrypts_is_named(sessions: sessionmaker[Session], clock: VirtualClock) -> None:
    _stored_before_phone_keys(sessions)
    with pytest.raises(PhoneKeyError, match="contact 1: no phone key decrypts its number"):
        rotate(sessions, PhoneVault(PhoneKeys.generate()), clock)


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def old_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path}/keys.db"
    for name in ("MINYI_PHONE_KEY", "MINYI_PHONE_KEY_FILE", "MINYI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINYI_DATABASE_URL", url)
    monkeypatch.setenv("MINYI_SECRET_KEY", OLD_SECRET)
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    _stored_before_phone_keys(sessions)
    return sessions


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0 and result.exception is None, result.output
    return result.stdout


def test_the_documented_migration_of_an_older_install(old_install: sessionmaker[Session], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "phone.keys"
    key_file.write_text(_run("keys", "generate", "--next"))
    ring = PhoneKeys.parse(key_file.read_text(), "phone.keys")
    assert ring.encryption[1:] == PhoneKeys.derived(OLD_SECRET).encryption
    monkeypatch.setenv("MINYI_PHONE_KEY_FILE", str(key_file))
    out = _run("keys", "rotate", "--batch", "2")
    assert "7 numbers: 7 re-encrypted, 0 rehashed" in out and "may now be removed" in out
    key_file.write_text(PhoneKeys(ring.encryption[:1], ring.hashing).dump())  # the older key removed
    monkeypatch.setenv("MINYI_SECRET_KEY", "a-new-session-key-changes-nothing-for-numbers")
    assert _state(old_install, PhoneVault(configured_keys(load_settings())))[0] == NUMBERS


def test_a_bad_key_file_stops_a_command_in_one_line(old_install: sessionmaker[Session], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "phone.keys").write_text("hash:nonsense\n")
    monkeypatch.setenv("MINYI_PHONE_KEY_FILE", str(tmp_path / "phone.keys"))
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "phone.keys: expected one or more encryption keys" in result.stderr
    with old_install() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_rotating_without_phone_keys_says_what_to_do_first(old_install: sessionmaker[Session]) -> None:
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 2 and "minyi keys generate --next" in result.stderr
