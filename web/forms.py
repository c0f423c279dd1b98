"""Forms shared by several areas. Every form is a FlaskForm, so every POST carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
