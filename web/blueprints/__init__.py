"""Adapter, part of :mod:`web`: one blueprint per area of the app (``twilio`` is the telephony webhooks)."""
