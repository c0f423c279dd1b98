"""The TwiML replies the webhooks keep (``WebhookReply``) so that a retried delivery gets the same
answer: kept for a day (Twilio retries within seconds), then pruned as calls end."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from survey.clock import Clock
from survey.db import session_scope
from survey.models import WebhookReply

log = logging.getLogger(__name__)

REPLIES_KEPT = timedelta(days=1)
PRUNE_EVERY = timedelta(minutes=10)


class ReplyPruning:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._pruned_at: datetime | None = None

    def prune(self) -> None:
        """Drop replies no retry can ask for any more, at most every ``PRUNE_EVERY``. Apart from
        the call's own transaction: a failure here (two processes pruning at once) costs nothing."""
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            with session_scope(self.sessions) as s:
                s.execute(delete(WebhookReply).where(WebhookReply.created_at < now - REPLIES_KEPT))
        except SQLAlchemyError as error:
            log.warning("pruning old webhook replies failed (tried again later): %s", error)
            self._pruned_at = None
