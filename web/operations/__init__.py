"""Adapter, part of :mod:`web`: mutations behind the views. Each takes the request's Session and changes state inside the
request's transaction (the app commits after the response); none commits on its own."""
