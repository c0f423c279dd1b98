"""How the Asterisk channel dials and paces its waits (from :class:`survey.config.Settings`)."""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from calls.recordings import ari_ref, ari_server
from survey.config import Settings


@dataclass(frozen=True)
class Timing:
    """Every wait of a call, in call seconds; ``scale`` multiplies them all (tests and the
    benchmark run calls faster than life against the fake Asterisk). The connection's waits
    (``connect_wait_s``, the back-off) are wall seconds."""

    scale: float = 1.0
    inter_digit_s: float = 4.0  # between the keys of a multi-key entry (capped by the question's timeout)
    record_grace_s: float = 3.0  # past a recording's maximum before we stop it ourselves
    amd_wait_s: float = 10.0  # longest wait for the channel to come back from the AMD dialplan
    end_wait_s: float = 5.0  # after our hang-up or stop request, for Asterisk to confirm it
    answer_guard_s: float = 90.0  # past the ring timeout, before a silent call is given up
    playback_guard_s: float = 300.0  # a prompt that never reports its end
    settle_s: float = 1.0  # after an adoption or a reconnect: keys in the replayed prompt's first second are ignored
    operator_ring_s: int = 30
    connect_wait_s: float = 10.0  # place_call waits this long for the events WebSocket
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    # How often the app asks Asterisk whether it is still registered (and, taken over by another
    # connection, whether that one has let it go): a lost registration is noticed this soon.
    app_check_s: float = 5.0
    # How often (wall seconds) the app tries again to copy home the recordings whose copy failed,
    # and deletes at Asterisk those due (ivr/channels/asterisk/recordings.py).
    recordings_pass_s: float = 60.0

    def s(self, seconds: float) -> float:
        return seconds * self.scale


@dataclass(frozen=True)
class AsteriskOptions:
    endpoint: str = "PJSIP/{number}@trunk"  # {number}: E.164 (+8613800000000), {digits}: without the +
    operator_endpoint: str = ""  # empty: an operator request hangs up politely (a follow-up task exists)
    amd_context: str = ""  # dialplan context running AMD() then Stasis(app,amd,${AMDSTATUS},${AMDCAUSE})
    media_prefix: str = "sound:minyi/"  # + "<language>/<prompt key>"; or sound:http://host/prompts/
    recordings_dir: Path | None = None  # stored recordings are fetched here; None leaves them in Asterisk
    recording_deletion: str = "after_download"  # when Asterisk's copy is deleted (Settings.recording_deletion)
    # Threads for the database work of all calls. On PostgreSQL a commit mostly waits on the disk:
    # with 8 threads, 500 calls' keys queued behind each other (key-to-prompt p99 20 s against
    # 12 s with 40, on the fake, same loaded machine; bench/bench_ari.py --db-threads).
    db_threads: int = 40
    record_calls: bool = False  # record every answered call whole (Settings.record_calls, whole_call.py)
    timing: Timing = field(default_factory=Timing)
    # host:port of the Asterisk (its ARI_URL's): recordings name the server that holds them, and
    # only that server's fetcher copies them (calls.recordings.ari_ref)
    server: str = "127.0.0.1:8088"

    def recording_path(self, name: str) -> str:
        """What a recording Asterisk stored as ``name`` is kept as: pending from this server, or
        (no recordings_dir) its file name, left in Asterisk."""
        return ari_ref(self.server, name) if self.recordings_dir else f"{name}.wav"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AsteriskOptions:
        base = cls(endpoint=check_endpoint(settings.asterisk_endpoint), operator_endpoint=settings.asterisk_operator_endpoint,
                   amd_context=settings.asterisk_amd_context,
                   recordings_dir=Path(settings.recordings_dir) if settings.recordings_dir else None,
                   recording_deletion=settings.recording_deletion, record_calls=settings.record_calls,
                   server=ari_server(settings.ari_url))
        return replace(base, **overrides)


ENDPOINT_FIELDS = ("number", "digits")


def endpoint_for(template: str, number: str) -> str:
    """The channel to dial for an E.164 number, e.g. ``PJSIP/+8613800000000@trunk``."""
    return template.format(number=number, digits=number.lstrip("+"))


def check_endpoint(template: str) -> str:
    """``template`` if it is a channel (``Tech/resource``) whose only fields are {number} and
    {digits}; else ValueError saying what is wrong."""
    where = f"ASTERISK_ENDPOINT {template!r}"
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{where}: {exc} (write a literal brace as {{{{ or }}}})") from None
    unknown = sorted(fields - set(ENDPOINT_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field {{{unknown[0]}}}; the fields are {{number}} (E.164, "
                         "+8613800138000) and {digits} (without the +)")
    tech, _, resource = template.partition("/")
    if not tech or not resource:
        raise ValueError(f"{where}: not a channel, Technology/resource (PJSIP/{{number}}@trunk)")
    return template


def formats_for(endpoint: str) -> str | None:
    """``ulaw`` for Local channels: without it they negotiate 192 kHz audio and cost 11x the CPU."""
    return "ulaw" if endpoint.lower().startswith("local/") else None
