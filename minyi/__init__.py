"""Composition, the top layer: the ``minyi`` command line and the demo wire the packages below
together (settings, database, channels, dialer, reports, web). Nothing below imports from here."""
