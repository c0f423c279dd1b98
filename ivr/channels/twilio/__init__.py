"""Adapter: the Twilio channel, outbound interview calls over Twilio's REST API and TwiML webhooks.

* :mod:`~ivr.channels.twilio.channel` — :class:`TwilioChannel`, the dialer's side: creates calls,
  paced to the account's CPS, retrying REST rate limits;
* :mod:`~ivr.channels.twilio.webhooks` — :class:`CallWebhooks`, Twilio's side: answered calls,
  key input, recordings, call progress and answering-machine verdicts, idempotent;
* :mod:`~ivr.channels.twilio.twiml` — engine steps as TwiML; :mod:`~ivr.channels.twilio.params`
  — request fields as engine events; :mod:`~ivr.channels.twilio.urls` — the webhook URLs.

``web.blueprints.twilio`` serves the webhooks under ``/twilio``.
"""

from ivr.channels.twilio.channel import TwilioChannel
from ivr.channels.twilio.twiml import TwimlRenderer
from ivr.channels.twilio.urls import WebhookUrls
from ivr.channels.twilio.webhooks import CallWebhooks

__all__ = ["CallWebhooks", "TwilioChannel", "TwimlRenderer", "WebhookUrls"]
