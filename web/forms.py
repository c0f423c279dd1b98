"""Forms shared by several areas, and how a form says what is wrong.

Every form is a :class:`Form` (a FlaskForm, so every POST carries a CSRF token) whose validators'
messages go through the one catalogue (web/translations_zh.py). A form shown again in the same
request shows ``field.errors``; a form whose view redirects (the console's and the case and concern
pages' actions) keeps its errors, and what was typed, with :func:`refused` for the page it redirects to. Templates show
both next to the field with ``_forms.html``'s ``field_errors(form, name)``."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, get_flashed_messages, request
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import HiddenField

WTFORMS_MESSAGES = (
    _l("This field is required."), _l("Not a valid choice."), _l("Not a valid datetime value."),
    _l("Not a valid date value."), _l("Not a valid integer value."), _l("Invalid Choice: could not coerce."),
    _l("Field cannot be longer than %(max)d character."), _l("Field cannot be longer than %(max)d characters."),
)
"""The messages of the WTForms validators and fields these forms use (WTForms looks them up in the
catalogue through :meth:`Form.Meta.get_translations`)."""


TYPED = "typed:"
TYPED_MAX_CHARS = 500
"""What a refused form's user typed is kept over the redirect up to this many characters in all (the
session is a cookie, of about 4 KB); a longer text is not kept."""


class Form(FlaskForm):
    """A form that is built again with what its user typed when its last submission was refused
    (:func:`keep_typed`): the page it redirects to shows the error next to the text, not an empty field."""

    class Meta:
        def get_translations(self, form: Any) -> Any:
            return get_translations()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs and request.method == "GET":
            for kept in get_flashed_messages(category_filter=[TYPED + self.key]):
                kwargs["formdata"] = MultiDict(json.loads(str(kept)))
        super().__init__(*args, **kwargs)

    @property
    def key(self) -> str:
        """The name a redirect keeps this form's errors under (one page can hold two forms with a
        ``note`` field)."""
        return type(self).__name__


class ActionForm(Form):
    """A button that changes something: only the CSRF token."""


def keep_typed(form: Form) -> None:
    """Keep what was sent in ``form``'s fields (not its CSRF token) for the page the redirect leads to."""
    typed = [(name, value) for name in form._fields if name != "csrf_token" for value in request.form.getlist(name)]
    if sum(len(value) for _name, value in typed) <= TYPED_MAX_CHARS:
        flash(json.dumps(typed, ensure_ascii=False), TYPED + form.key)


def refused(form: Form, back: Response) -> Response:
    """Keep ``form``'s errors for the page ``back`` leads to: each next to its field, a hidden
    field's at the top, and a line at the top saying that something is wrong."""
    for name, messages in form.errors.items():
        hidden = isinstance(getattr(form, name, None), HiddenField)
        for message in messages:
            flash(str(message), "error" if hidden else f"field:{form.key}.{name}")
    flash(_("Not saved: correct the marked field."), "error")
    keep_typed(form)
    return back


def refused_at(form: Form, name: str, message: str, back: Response) -> Response:
    """A service's refusal of a valid form, shown next to the field it is about."""
    flash(message, f"field:{form.key}.{name}")
    flash(_("Not saved: correct the marked field."), "error")
    keep_typed(form)
    return back
