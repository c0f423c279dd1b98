"""Move every stored number to the current phone keys (``minyi keys rotate``).

Numbers are re-encrypted with the first encryption key. When the hash key has changed too, each
number's ``number_hash`` is recomputed and the do-not-call rows that carry the old hash follow it
in the same transaction, so an opted-out number stays out. A do-not-call row whose number is not
stored (written by another system) cannot be recomputed: the rotation then refuses to change
hashes rather than lose it from the list.

The files background jobs keep (an uploaded frame, its rejected rows: ``job_files``) hold numbers
too and are re-encrypted the same way, one file a transaction.

Batches of contacts commit one by one; a rotation stopped half-way is resumed by running it
again: rows already under the current keys are skipped. Start and end are audit rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from survey import audit
from survey.clock import Clock
from survey.db import session_scope
from survey.models import Contact, DoNotCall, JobFile
from survey.phones import PhoneError, PhoneKeyError, PhoneVault


@dataclass
class Rotation:
    """What a rotation did (the audit row's values)."""

    checked: int = 0
    reencrypted: int = 0
    rehashed: int = 0
    files: int = 0  # job files re-encrypted


def rotate(sessions: sessionmaker[Session], vault: PhoneVault, clock: Clock, *, batch: int = 500,
           progress: Callable[[Rotation], None] | None = None) -> Rotation:
    """Re-encrypt (and, if the hash key changed, rehash) every contact; see the module's docstring."""
    if batch < 1:
        raise PhoneKeyError("the batch size must be at least 1")
    key = vault.keys.fingerprint()
    with session_scope(sessions) as session:
        unmatched = _unmatched_do_not_call(session)
        audit.record(session, clock, user_id=None, action="phone_keys_rotation_started", entity="phone_keys",
                     entity_id=key)
    done, last_id = Rotation(), 0
    while True:
        with session_scope(sessions) as session:
            contacts = session.scalars(select(Contact).where(Contact.id > last_id).order_by(Contact.id)
                                       .limit(batch)).all()
            for contact in contacts:
                _rotate_contact(session, contact, vault, unmatched, done)
        if not contacts:
            break
        last_id = contacts[-1].id
        if progress is not None:
            progress(done)
    _rotate_job_files(sessions, vault, done)
    with session_scope(sessions) as session:
        audit.record(session, clock, user_id=None, action="phone_keys_rotated", entity="phone_keys",
                     entity_id=key, after=asdict(done))
    return done


def _rotate_job_files(sessions: sessionmaker[Session], vault: PhoneVault, done: Rotation) -> None:
    """Re-encrypt each job file not under the current key, a file a transaction (files can be large)."""
    with sessions() as session:
        keys = session.execute(select(JobFile.job_id, JobFile.role).order_by(JobFile.job_id, JobFile.role)).all()
    for job_id, role in keys:
        with session_scope(sessions) as session:
            file = session.get(JobFile, (job_id, role))
            if file is None or vault.is_current(file.data):
                continue
            try:
                file.data = vault.seal(vault.unseal(file.data))
            except PhoneError:
                raise PhoneKeyError("job %(job)s: no phone key decrypts its %(role)s file; put the key it was stored "
                                    "with back in the key file (after the current one) and run again",
                                    job=job_id, role=role) from None
            done.files += 1


def _unmatched_do_not_call(session: Session) -> int:
    """Do-not-call rows whose hash no stored number has."""
    stored = exists().where(Contact.number_hash == DoNotCall.number_hash)
    return int(session.scalar(select(func.count()).select_from(DoNotCall).where(~stored)) or 0)


def _rotate_contact(session: Session, contact: Contact, vault: PhoneVault, unmatched: int, done: Rotation) -> None:
    try:
        number = vault.decrypt(contact.number_enc)
    except PhoneError:
        raise PhoneKeyError("contact %(id)s: no phone key decrypts its number; put the key it was stored with "
                            "back in the key file (after the current one) and run again", id=contact.id) from None
    done.checked += 1
    if not vault.is_current(contact.number_enc):
        contact.number_enc = vault.encrypt(number)
        done.reencrypted += 1
    new_hash = vault.hash(number)
    if new_hash == contact.number_hash:
        return
    if unmatched:
        raise PhoneKeyError("the hash key has changed, but %(count)s do-not-call entries have no stored number "
                            "to recompute their hash from: keep the previous hash: key (docs/keys.md)",
                            count=unmatched)
    session.execute(update(DoNotCall).where(DoNotCall.number_hash == contact.number_hash)
                    .values(number_hash=new_hash))
    contact.number_hash = new_hash
    done.rehashed += 1
