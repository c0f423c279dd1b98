"""TwiML of staff-placed calls: each leg joins the staff call's ``<Conference>``.

The conference is named for the staff call (``minyi-staff-call-12``: no personal data in the name,
as Twilio asks), so the staff member's leg, the resident's and a supervisor listening in meet in it.

* The staff member's leg waits in the conference in silence (``waitUrl=""``) while the
  resident's phone rings (the console shows how the call is going).
  ``startConferenceOnEnter="false"``: the conference, and with it its recording, begins only when
  the resident joins.
* The resident's leg of a recorded call first hears the consent notice, on the resident's own leg,
  then a ``<Redirect>`` to the bridge webhook brings it into the conference: nothing of the
  resident is recorded before the notice, and a resident who hangs up during it is never bridged.
  It joins with ``startConferenceOnEnter="true"``.
* Both legs have ``endConferenceOnExit="true"``: when either hangs up, the other is released.
  ``beep="false"``: nobody hears a tone on joining.
* Both legs carry the same recording attributes (``record="record-from-start"`` and the
  recording status callback), so the conference is recorded whichever leg's settings Twilio
  takes for it. Recording starts when the conference starts, i.e. when the resident joins.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.channels.twilio.staff_urls import StaffCallUrls
from ivr.channels.twilio.twiml import AudioUrl, speak
from ivr.engine import Prompt

RECORD = "record-from-start"


def conference_name(call_id: int) -> str:
    return f"minyi-staff-call-{call_id}"


class StaffTwiml:
    """``voices``: the ``<Say>`` voice per language (``zh``, ``en``); Twilio's default if absent."""

    def __init__(self, urls: StaffCallUrls, voices: Mapping[str, str] | None = None) -> None:
        self.urls = urls
        self.voices = dict(voices or {})

    def staff_joins(self, call_id: int, *, record: bool) -> str:
        """The staff member answered: into the conference, to wait for the resident."""
        return self._conference(call_id, record=record, starts=False)

    def consent(self, call_id: int, notice: Prompt, audio: AudioUrl | None = None) -> str:
        """The resident of a recorded call answered: the consent notice (played when ``audio``
        has its recording, else spoken), then on to the bridge webhook."""
        response = VoiceResponse()
        speak(response, (notice,), audio, self.voices)
        response.redirect(self.urls.bridge(call_id), method="POST")
        return str(response.to_xml())

    def resident_joins(self, call_id: int, *, record: bool) -> str:
        """The resident (after the consent notice, if recorded) joins and starts the conference."""
        return self._conference(call_id, record=record, starts=True)

    def hang_up(self) -> str:
        """A leg of a call that is over (e.g. the resident answers after the staff member hung up)."""
        response = VoiceResponse()
        response.hangup()
        return str(response.to_xml())

    def _conference(self, call_id: int, *, record: bool, starts: bool) -> str:
        response, dial = VoiceResponse(), Dial()
        recording: dict[str, str] = {}
        if record:
            recording = {"record": RECORD, "recording_status_callback": self.urls.recording(call_id),
                         "recording_status_callback_method": "POST", "recording_status_callback_event": "completed"}
        dial.conference(conference_name(call_id), beep="false", start_conference_on_enter=starts,
                        end_conference_on_exit=True, wait_url="", **recording)
        response.append(dial)
        return str(response.to_xml())
