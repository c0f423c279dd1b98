"""Audit rows for what a logged-in user takes away: downloads of exports, recordings and bulletins."""

from __future__ import annotations

from flask import request

from survey import audit
from web.access import user
from web.context import ctx, db


def download(entity: str, entity_id: int | str, **details: str | int | list[str] | None) -> None:
    """One audit row for a download by the current user, in the request's transaction (so it is
    kept exactly when the file is sent). A media player's follow-up byte ranges of the same file
    are not rows of their own."""
    if request.range is not None and request.range.ranges[0][0] != 0:
        return
    audit.record(db(), ctx().clock, user_id=user().id, action="download", entity=entity, entity_id=entity_id,
                 after={**details, "address": request.remote_addr})
