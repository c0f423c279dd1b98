"""Staff-placed calls over Asterisk, the web side: :class:`AsteriskStaffLine` (a
:class:`calls.staff_lines.StaffLine`) asks Asterisk, in plain synchronous ARI requests, to ring
the staff member's phone (or a supervisor's) into the Stasis app that ``minyi ari`` serves; the app
(:mod:`ivr.channels.asterisk.staff_bridge`) then dials the resident and bridges them on events.

Every leg's channel id names its kind and the staff call (:mod:`.staff_legs`), so the app knows a
staff call by its first event, whoever originated it.
"""

from __future__ import annotations

from typing import Any

import httpx

from calls.staff_lines import BridgeRequest, CallRef, ListenRequest, StaffLineError
from ivr.channels.asterisk.ari import AriConfig, error_message
from ivr.channels.asterisk.channel import ari_config
from ivr.channels.asterisk.options import AsteriskOptions, formats_for
from ivr.channels.asterisk.staff_legs import LISTEN, STAFF, STAFF_RING_S, leg_id, phone_endpoint
from survey.config import Settings


class AsteriskStaffLine:
    name = "asterisk"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config: AriConfig = ari_config(settings)
        self.options = AsteriskOptions.from_settings(settings)
        self._transport = transport

    def place(self, request: BridgeRequest) -> str:
        channel_id = leg_id(STAFF, request.staff_call_id)
        self._originate(request.staff_endpoint, channel_id, f"{STAFF},{request.staff_call_id}", request.caller_id)
        return channel_id

    def hang_up(self, call: CallRef) -> bool:
        with self._client() as client:
            found = [self._send(client, "DELETE", f"/channels/{channel_id}", {"reason": "normal"}, gone_ok=True)
                     for channel_id in (call.resident_ref, call.provider_ref) if channel_id]
        return any(response is not None for response in found)

    def listen(self, request: ListenRequest) -> None:
        call_id = request.call.staff_call_id
        self._originate(request.supervisor_endpoint, leg_id(LISTEN, call_id), f"{LISTEN},{call_id}", None)

    def _originate(self, phone: str, channel_id: str, app_args: str, caller_id: str | None) -> None:
        endpoint = phone_endpoint(phone, self.options.endpoint)
        params = {"endpoint": endpoint, "app": self.config.app, "appArgs": app_args, "channelId": channel_id,
                  "timeout": str(STAFF_RING_S), "callerId": caller_id, "formats": formats_for(endpoint)}
        with self._client() as client:
            if self._send(client, "GET", f"/applications/{self.config.app}", {}, gone_ok=True) is None:
                raise StaffLineError("no process serves the Stasis app %(app)r: start `minyi ari`", app=self.config.app)
            self._send(client, "POST", "/channels", {k: v for k, v in params.items() if v})

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.config.url.rstrip("/") + "/ari", transport=self._transport,
                            timeout=self.config.request_timeout_s,
                            headers={"Authorization": self.config.authorization})

    @staticmethod
    def _send(client: httpx.Client, method: str, path: str, params: dict[str, Any], *, gone_ok: bool = False
              ) -> httpx.Response | None:
        """One ARI request; None for a 404 when ``gone_ok``; StaffLineError for any other refusal."""
        try:
            response = client.request(method, path, params=params)
        except httpx.TransportError as exc:
            raise StaffLineError("Asterisk cannot be reached: %(error)s", error=type(exc).__name__) from None
        if response.status_code == 404 and gone_ok:
            return None
        if response.status_code >= 400:
            raise StaffLineError("Asterisk refused the call: %(error)s", error=f"{response.status_code} "
                                 f"{error_message(response.content, response.reason_phrase)}")
        return response

