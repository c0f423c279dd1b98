"""Composition: one module per ``minyi`` command group; each command parses its arguments, builds
what it needs from the layers below and prints the result. :mod:`minyi.cli` names them."""
