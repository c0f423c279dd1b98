"""``minyi keys generate`` and ``minyi keys rotate``: the keys of stored phone numbers (docs/keys.md)."""

from __future__ import annotations

import typer

from survey.config import load_settings


def keys_generate(
    next_: bool = typer.Option(False, "--next", help="Keys for a rotation: a new encryption key first, then "
                                                     "the keys in use now (including those derived from "
                                                     "MINYI_SECRET_KEY when no phone keys are set) and the "
                                                     "hash key in use now."),
    new_hash: bool = typer.Option(False, "--new-hash", help="With --next: a new hash key too (`minyi keys "
                                                            "rotate` then recomputes every number_hash)."),
) -> None:
    """Print phone keys as a key file (MINYI_PHONE_KEY_FILE): fresh keys, or with --next the keys of a rotation."""
    from survey.phones import PhoneKeys, configured_keys

    fresh = PhoneKeys.generate()
    if not next_:
        typer.echo(fresh.dump(), nl=False)
        return
    current = configured_keys(load_settings())
    typer.echo(PhoneKeys(fresh.encryption + current.encryption,
                         fresh.hashing if new_hash else current.hashing).dump(), nl=False)


def keys_rotate(
    batch: int = typer.Option(500, "--batch", help="Contacts per transaction."),
) -> None:
    """Re-encrypt (and if the hash key changed, rehash) every stored number; resumable (docs/keys.md)."""
    from survey.clock import SystemClock
    from survey.db import open_sessions
    from survey.key_rotation import Rotation, rotate
    from survey.phones import PhoneKeyError, configured_vault

    settings = load_settings()
    if not (settings.phone_key or settings.phone_key_file):
        raise PhoneKeyError("no phone keys are set (MINYI_PHONE_KEY_FILE): make a key file with `minyi keys "
                            "generate --next` first (docs/keys.md)")
    vault = configured_vault(settings)

    def show(done: Rotation) -> None:
        typer.echo(f"{done.checked} numbers checked", err=True)

    done = rotate(open_sessions(settings.database_url), vault, SystemClock(), batch=batch, progress=show)
    typer.echo(f"{done.checked} numbers: {done.reencrypted} re-encrypted, {done.rehashed} rehashed; every number "
               f"is under key {vault.keys.fingerprint()}")
    if len(vault.keys.encryption) > 1:
        typer.echo("the older encryption keys may now be removed from the key file (keep a copy with any "
                   "backup made before this rotation)")
