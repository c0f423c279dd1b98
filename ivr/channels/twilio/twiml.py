"""Engine steps as TwiML documents (built with twilio-python's ``VoiceResponse``).

* prompts: ``<Play>`` when a recorded prompt has a public audio URL, else ``<Say>`` in the
  prompt's language (``cmn-CN`` / ``en-US``) with the configured voice;
* key input: ``<Gather input="dtmf" actionOnEmptyResult="true">`` around the prompts, so a
  timeout also comes back to the action URL (with no ``Digits``);
* an open answer: ``<Record>``, then a ``<Redirect>`` to the same action, because Twilio skips
  the action when nothing was recorded and goes on with the next verb;
* the end: ``<Hangup/>``, or ``<Dial>`` to the operator when a transfer was asked for and an
  operator number is configured (its action reports whether anyone answered).

Every action URL carries the attempt id and the number of the step it answers (``seq``), which
is what makes a retried delivery recognisable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.channels.twilio.urls import WebhookUrls
from ivr.engine import Collect, Prompt, Record, Step

AudioUrl = Callable[[Prompt], str | None]
"""A prompt's public audio URL, or None to let Twilio speak its text."""

SAY_LANGUAGES = {"zh": "cmn-CN", "en": "en-US"}


class TwimlRenderer:
    def __init__(self, urls: WebhookUrls, *, operator_number: str = "",
                 voices: Mapping[str, str] | None = None) -> None:
        """``voices``: the ``<Say>`` voice per language (``zh``, ``en``); Twilio's default if absent."""
        self.urls = urls
        self.operator_number = operator_number
        self.voices = dict(voices or {})

    def render(self, step: Step, attempt_id: int, seq: int, audio: AudioUrl | None = None) -> str:
        """The TwiML for ``step``; its action URLs carry ``seq``, the number of the next step.
        ``audio`` gives the prompts that have a recording to play."""
        if step.keep_playing:
            raise ValueError("Twilio collects whole entries; a per-key step cannot be rendered")
        response = VoiceResponse()
        if step.collect is not None:
            self._gather(response, step.collect, step.prompts, self.urls.gather(attempt_id, seq), audio)
        elif step.record is not None:
            self._record(response, step.record, step.prompts, attempt_id, seq, audio)
        else:
            self._prompts(response, step.prompts, audio)
            if step.transfer and self.operator_number:
                response.dial(self.operator_number, action=self.urls.dialed(attempt_id, seq), method="POST")
            elif step.hangup or step.transfer:
                response.hangup()
        return str(response.to_xml())

    def hangup(self) -> str:
        response = VoiceResponse()
        response.hangup()
        return str(response.to_xml())

    def _gather(self, response: VoiceResponse, collect: Collect, prompts: tuple[Prompt, ...], action: str,
                audio: AudioUrl | None) -> None:
        gather = response.gather(
            input="dtmf", action=action, method="POST", action_on_empty_result=True,
            timeout=math.ceil(collect.timeout_s), num_digits=collect.num_digits or collect.max_digits,
            finish_on_key=collect.finish_key or "")
        self._prompts(gather, prompts, audio)

    def _record(self, response: VoiceResponse, record: Record, prompts: tuple[Prompt, ...], attempt_id: int,
                seq: int, audio: AudioUrl | None) -> None:
        self._prompts(response, prompts, audio)
        action = self.urls.recorded(attempt_id, seq)
        response.record(action=action, method="POST", max_length=record.max_seconds,
                        finish_on_key=record.finish_key, play_beep=record.beep,
                        timeout=math.ceil(record.silence_s),
                        recording_status_callback=self.urls.recording(attempt_id),
                        recording_status_callback_method="POST", recording_status_callback_event="completed")
        response.redirect(action, method="POST")

    def _prompts(self, parent: VoiceResponse | Gather, prompts: tuple[Prompt, ...], audio: AudioUrl | None) -> None:
        speak(parent, prompts, audio, self.voices)


def speak(parent: VoiceResponse | Gather, prompts: tuple[Prompt, ...], audio: AudioUrl | None,
          voices: Mapping[str, str]) -> None:
    """``<Play>`` each prompt that has a recording, ``<Say>`` the others in their language's voice."""
    for prompt in prompts:
        url = audio(prompt) if audio else None
        if url:
            parent.play(url)
        else:
            parent.say(prompt.text, language=say_language(prompt.language), voice=voices.get(prompt.language))


def say_language(language: str) -> str:
    if language not in SAY_LANGUAGES:
        raise ValueError(f"no Twilio <Say> language for questionnaire language {language!r}")
    return SAY_LANGUAGES[language]
