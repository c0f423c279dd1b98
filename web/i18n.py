"""中文 (default) and English through Flask-Babel's gettext, with the catalogue in a Python dict.

Templates and code write English message ids (``_("Next case")``); :mod:`web.translations_zh`
maps them to Chinese. Keeping the catalogue in Python means a clean clone works with only
``pip install`` (no .po compilation step); :class:`DictBabel` plugs it in where Flask-Babel
would load compiled .mo files, so ``gettext``, ``lazy_gettext`` and Jinja's ``_`` all use it.
"""

from __future__ import annotations

from functools import cached_property

from babel.support import NullTranslations
from flask import session
from flask_babel import Babel, Domain, get_locale, gettext

from survey.errors import Refused
from web.translations_zh import ZH

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


class DictTranslations(NullTranslations):
    """Translations from a mapping; missing ids fall back to the id itself (English)."""

    def __init__(self, catalogue: dict[str, str]) -> None:
        super().__init__()
        self._catalogue = catalogue

    def gettext(self, message: str) -> str:
        return self._catalogue.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self.ngettext(singular, plural, n)

    ugettext = gettext
    ungettext = ngettext


_CATALOGUES = {"zh": DictTranslations(ZH), "en": DictTranslations({})}


class DictDomain(Domain):
    def get_translations(self) -> NullTranslations:
        return _CATALOGUES.get(str(get_locale() or DEFAULT_LANGUAGE), _CATALOGUES[DEFAULT_LANGUAGE])


class DictBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return DictDomain()


def select_language() -> str:
    """The language chosen with the switch; Chinese until someone switches."""
    chosen = session.get("lang")
    return str(chosen) if chosen in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    """``zh`` or ``en`` for the current request (for data that carries both, e.g. questionnaire text)."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def refusal(exc: Exception) -> str:
    """The message of an error a view shows the user, in the request's language: a
    :class:`~survey.errors.Refused` is translated by its message id and then filled in."""
    if isinstance(exc, Refused):
        return str(gettext(exc.message, **exc.values))
    return str(gettext(str(exc)))
