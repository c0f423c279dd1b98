"""The Chinese catalogue: English message id → 中文."""

ZH: dict[str, str] = {}
