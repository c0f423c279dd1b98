"""One blueprint per area of the app (``twilio`` is the telephony webhooks)."""
