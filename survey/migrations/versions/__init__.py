"""One migration per schema change, in order (``0001``, ``0002``, ...)."""
