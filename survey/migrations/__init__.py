"""Kernel, part of :mod:`survey`: the Alembic migrations of the storage schema (``minyi db upgrade``)."""
