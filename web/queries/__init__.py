"""Adapter, part of :mod:`web`: read models for the pages, what each view shows, computed in SQL, free of Flask."""
