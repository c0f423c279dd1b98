"""Adapter: the Asterisk channel, IVR interviews over ARI (docs/asterisk.md).

One package per concern, wazo-calld style: ``ari`` (the adapter, the only module that talks to
Asterisk), ``supervisor`` (the connection and its reconnects), ``stasis`` (the event handler),
``runner``/``steps``/``operator`` (a call, an engine step, the operator bridge, each receiving the
line it works on), ``app`` (the wiring) and ``channel`` (the dialer's Channel). What a call
stores goes through :class:`calls.service.CallService`, off the event loop; ``minyi ari`` is
:mod:`minyi.commands.ari`.
"""

from ivr.channels.asterisk.app import AriApp
from ivr.channels.asterisk.channel import AsteriskChannel, ari_config
from ivr.channels.asterisk.media import install_prompts, media_uri
from ivr.channels.asterisk.options import AsteriskOptions, Timing

__all__ = ["AriApp", "AsteriskChannel", "AsteriskOptions", "Timing", "ari_config", "install_prompts", "media_uri"]
