"""Adapters: one package per telephony provider. Each implements :class:`dialer.protocol.Channel`
and translates its provider's events into calls of the call-lifecycle service (:mod:`calls`)."""
