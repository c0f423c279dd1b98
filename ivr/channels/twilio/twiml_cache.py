"""Each engine step's TwiML rendered once a minute, not once a request.

A step of one questionnaire renders to the same document on every call but for the attempt id
and step number in its action URLs, so the document is rendered once with marker numbers in
their place and each reply substitutes its own. The key is the step itself (its prompts' texts,
its keys to collect) and the questionnaire id: a changed questionnaire gives other steps, so
other entries, and nothing stale is served. Whether a prompt has a recording to ``<Play>``
(files under ``MINYI_PROMPTS_DIR``) is looked up again when an entry is a minute old (``ttl``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ivr.channels.twilio.twiml import AudioUrl, TwimlRenderer
from ivr.engine import Step

# Rendered in place of the attempt id and the step number, then replaced (19 digits: no real id)
_ATTEMPT, _SEQ = 7301846529016384257, 5918273640192837465
TTL_SECONDS = 60.0
MAX_ENTRIES = 4096  # steps with per-call text (a callback time read back) would otherwise pile up


class StepTwiml:
    """``audio(questionnaire_id)`` gives that questionnaire's recorded prompts (None: none);
    ``now`` is a monotonic clock in seconds."""

    def __init__(self, renderer: TwimlRenderer, audio: Callable[[str], AudioUrl | None], *,
                 ttl: float = TTL_SECONDS, now: Callable[[], float] = time.monotonic) -> None:
        self.renderer = renderer
        self.audio = audio
        self.ttl = ttl
        self.now = now
        self._rendered: dict[tuple[str, Step], tuple[float, str]] = {}
        self.hangup = renderer.hangup()

    def render(self, step: Step, questionnaire_id: str, attempt_id: int, seq: int) -> str:
        """The TwiML for ``step`` of a call of ``questionnaire_id`` (see :meth:`TwimlRenderer.render`)."""
        if _marked(step):  # a prompt that reads out a marker: rendered as it is, never cached
            return self.renderer.render(step, attempt_id, seq, self.audio(questionnaire_id))
        key, now = (questionnaire_id, step), self.now()
        entry = self._rendered.get(key)
        if entry is None or entry[0] <= now:
            if len(self._rendered) >= MAX_ENTRIES:
                self._rendered.clear()
            entry = self._rendered[key] = (now + self.ttl, self.renderer.render(
                step, _ATTEMPT, _SEQ, self.audio(questionnaire_id)))
        return entry[1].replace(str(_ATTEMPT), str(attempt_id)).replace(str(_SEQ), str(seq))


def _marked(step: Step) -> bool:
    return any(str(_ATTEMPT) in prompt.text or str(_SEQ) in prompt.text for prompt in step.prompts)
