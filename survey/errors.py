"""Refusals: what a user asked cannot be done, and why, in words the user can act on.

``message`` is an English message id with named placeholders (``%(code)s``) and ``values`` fill
them. The command line prints ``str(exc)`` (the English text); the web app looks the id up in its
catalogue and fills the values in after translation (:func:`web.i18n.refusal`), so a message with
a value in it is translated like any other.
"""

from __future__ import annotations


class Refused(ValueError):
    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message, self.values = message, values
