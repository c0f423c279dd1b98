"""Every prompt a questionnaire can make the engine say, in every language it declares.

The keys are the engine's (:class:`ivr.engine.Prompt`): ``<question>/text``, ``<question>/reprompt``
and ``msg/<message>``; the texts are the ones the engine would speak, and the channels' own
messages (:data:`CHANNEL_SPOKEN`).
"""

from __future__ import annotations

from ivr.engine import Prompt
from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm


def all_prompts(questionnaire: Questionnaire) -> list[Prompt]:
    """Question texts and re-prompts in questionnaire order, then the system messages; per language."""
    prompts = []
    for language in questionnaire.languages:
        for q in questionnaire.questions:
            prompts.append(Prompt(f"{q.id}/text", qm.text_in(q.text, language), language))
            if q.reprompt:
                prompts.append(Prompt(f"{q.id}/reprompt", qm.text_in(q.reprompt, language), language))
        for name in _message_names(questionnaire):
            prompts.append(Prompt(f"msg/{name}", questionnaire.message(name, language), language))
    return prompts


# Messages a questionnaire may define that the engine never says (question texts carry these hints).
UNSPOKEN = ("number_hint", "multiple_hint", "record_intro")
# Messages a channel says itself, not the engine: the notice a resident hears before a staff call
# that is recorded for quality control (calls/staff_lines.py).
CHANNEL_SPOKEN = ("recording_consent",)


def _message_names(questionnaire: Questionnaire) -> list[str]:
    asks_language = len(questionnaire.languages) > 1 and questionnaire.settings.language_menu
    return [name for name in qm.DEFAULT_MESSAGES
            if name not in UNSPOKEN and (name != "language_menu" or asks_language)]
