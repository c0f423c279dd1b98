"""Tooling, outside the layers: checks of the code's structure that `make lint` runs beside ruff (not part of the product)."""
