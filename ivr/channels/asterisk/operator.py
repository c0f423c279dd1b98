"""Connecting a resident who pressed ``0`` to a person.

The resident waits in a mixing bridge with music on hold while the operator's leg is originated
into the app; when the operator answers, both are in the bridge. Whoever hangs up first ends the
call for both. If nobody answers, the resident hears that staff will call back (the engine's
OperatorRequested effect has already created the follow-up task) and the call ends.
"""

from __future__ import annotations

import logging
import uuid

from ivr.channels.asterisk.ari import AriError
from ivr.channels.asterisk.calls import CallRegistry, Resync, channel_of
from ivr.channels.asterisk.line import TIMEOUT, CallLine
from ivr.channels.asterisk.options import AsteriskOptions, formats_for
from ivr.channels.asterisk.steps import StepPlayer
from ivr.engine import Prompt

log = logging.getLogger(__name__)


class OperatorBridge:
    def __init__(self, options: AsteriskOptions, registry: CallRegistry) -> None:
        self.options, self.registry = options, registry

    async def connect(self, line: CallLine, player: StepPlayer, language: str) -> None:
        call = line.call
        bridge_id, leg = f"minyi-op-{uuid.uuid4().hex}", f"minyi-op-{uuid.uuid4().hex}"
        self.registry.alias(call, leg)
        await line.rest(lambda a: a.create_bridge(bridge_id, f"minyi-{call.attempt_id}"))
        try:
            await line.rest(lambda a: a.add_to_bridge(bridge_id, line.channel_id))
            await line.quietly(lambda a: a.start_moh(bridge_id))
            if await self._operator_answers(line, bridge_id, leg):
                await self._until_either_hangs_up(line, leg)
                return
        finally:
            await line.quietly(lambda a: a.destroy_bridge(bridge_id))
        if call.ended:
            return
        log.info("attempt %s: no operator answered; a follow-up task is open", call.attempt_id)
        await player.until_played(await player.play((Prompt("msg/operator", "", language),)))

    async def _operator_answers(self, line: CallLine, bridge_id: str, leg: str) -> bool:
        timing = self.options.timing
        endpoint = self.options.operator_endpoint
        try:
            await line.rest(lambda a: a.originate(endpoint, channel_id=leg, app_args=f"operator,{line.call.attempt_id}",
                                                  caller_id=line.call.caller_id, timeout_s=timing.operator_ring_s,
                                                  formats=formats_for(endpoint)))
        except AriError as exc:
            log.warning("attempt %s: the operator line could not be dialled: %s", line.call.attempt_id, exc)
            return False
        deadline = line.deadline(timing.operator_ring_s + timing.end_wait_s)
        while True:
            item = await line.next(deadline)
            if item is TIMEOUT:
                await line.quietly(lambda a: a.hangup(leg))
                return False
            if isinstance(item, Resync):
                if leg not in item.live:
                    return False
                line.resync(item)
            if line.ends_call(item):
                await line.quietly(lambda a: a.hangup(leg))
                return False
            if not isinstance(item, dict) or channel_of(item) != leg:
                continue
            if item["type"] == "StasisStart":
                await line.rest(lambda a: a.add_to_bridge(bridge_id, leg))
                await line.quietly(lambda a: a.stop_moh(bridge_id))
                return True
            if item["type"] == "ChannelDestroyed":
                return False

    async def _until_either_hangs_up(self, line: CallLine, leg: str) -> None:
        while True:
            item = await line.next(None)
            gone = isinstance(item, Resync) and (leg not in item.live or line.channel_id not in item.live)
            if gone or line.ends_call(item):
                await line.quietly(lambda a: a.hangup(leg))
                return
            if isinstance(item, dict) and channel_of(item) == leg and item["type"] in ("StasisEnd",
                                                                                       "ChannelDestroyed"):
                await line.hang_up()
                return
