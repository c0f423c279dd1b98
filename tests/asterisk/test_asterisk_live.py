"""Optional: one whole interview against a real Asterisk (docs/asterisk.md, "Checking against a
real Asterisk"). Skipped unless MINYI_TEST_ARI_URL names one; the resident is the dialplan context
``minyi-residents`` answering a Local channel and sending the keys of COMPLETE."""

from __future__ import annotations

import os

import pytest
from asterisk_world import COMPLETE, SQLITE_ONLY, World, wait_until_idle

from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions
from ivr.channels.base import CallStatus
from survey.config import Settings
from survey.models import InterviewStatus

LIVE = os.environ.get("MINYI_TEST_ARI_URL")

pytestmark = pytest.mark.skipif(not LIVE, reason="no real Asterisk: set MINYI_TEST_ARI_URL (and _USERNAME, _PASSWORD)")


@SQLITE_ONLY
def test_a_whole_interview_on_a_real_asterisk(world: World, sessions, clock, tmp_path) -> None:
    settings = Settings(ari_url=LIVE or "", ari_username=os.environ.get("MINYI_TEST_ARI_USERNAME", "minyi"),
                        ari_password=os.environ.get("MINYI_TEST_ARI_PASSWORD", ""),
                        ari_app=os.environ.get("MINYI_TEST_ARI_APP", "minyi-test"),
                        asterisk_endpoint=os.environ.get("MINYI_TEST_ENDPOINT", "Local/{digits}@minyi-residents"),
                        recordings_dir=str(tmp_path))
    options = AsteriskOptions.from_settings(settings, amd_context=os.environ.get("MINYI_TEST_AMD_CONTEXT", ""))
    with AsteriskChannel(settings, sessions, clock, options=options, drain_s=0) as channel:
        request = world.dial("+8613800138000")
        assert channel.place_call(request) is None
        wait_until_idle(channel, timeout_s=240)
    out = world.outcome(request.attempt_id)
    assert out.attempt.outcome == CallStatus.ANSWERED, out.attempt.error
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.answers["q_procuratorate"] == int(COMPLETE[8]) and out.answers["d_years"] == float(COMPLETE[14])
