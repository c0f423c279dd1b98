"""One driver per channel: it plays a scenario's calls the way that channel carries them, on the
harness the channel's own tests use, and leaves the rows to be compared.

- simulated: :class:`SimulatedChannel` with a resident who presses the scenario's keys; the
  call's result is applied as the dialer applies it (``CallService.finish``);
- twilio: the webhooks driven as Twilio drives them (``tests/twilio/twilio_caller.py``);
- asterisk: the Stasis app on the fake ARI, whose resident presses the keys (``tests/asterisk``);
- console: an interviewer who takes the case's task, enters the resident's keys and records the
  outcome (``tests/web/web_support.py``).

``duplicate``: the provider delivers its events twice (each webhook; StasisEnd and
ChannelDestroyed; the call's result; the disposition form). A lost connection is injected by the
test (:mod:`scenario_faults`); each driver says at which answer-storing commit it strikes
(:meth:`fault_at`) and how the channel recovered (:attr:`recoveries`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from ari_fake import FakeAsterisk, Press, Resident
from ari_fake.residents import HangUp as HangsUp
from ari_fake.residents import Reply
from asterisk_world import wait_until_idle
from flask import Flask
from scenario_bench import WORLD, Bench
from scenario_model import Call, Scenario
from sqlalchemy import select
from twilio_caller import Call as TwilioCall
from twilio_caller import Services
from web_support import Client

from calls.service import CallService
from dialer.followup import open_task
from ivr.channels.asterisk import AsteriskChannel
from ivr.channels.simulated import Person, SimulatedChannel
from ivr.channels.simulated.behaviour import DAYPARTS, Behaviour
from ivr.channels.twilio.urls import WebhookUrls
from ivr.engine import Digits, Event, HangUp, Step
from survey.clock import to_local
from survey.config import Settings
from survey.db import session_scope
from survey.models import Case, Interview
from survey.questionnaire import Questionnaire, load_bundled
from survey.transactions import RetryPolicy
from survey.vocabulary import CallStatus, InterviewStatus, TaskKind
from web.blueprints.twilio import EXTENSION, bp, build_webhooks

Q = load_bundled()
MENU_KEYS = {"msg/language_menu": "1", "msg/resume_menu": "1"}  # 普通话; continue where I stopped


class Driver(Protocol):
    name: str
    harness_tasks: set[int]
    recoveries: int  # tries again after a lost connection (the driver's or the channel's own)

    def play(self, call: Call, *, duplicate: bool) -> None: ...

    def fault_at(self, scenario: Scenario) -> int: ...


def answers_before_last_call(scenario: Scenario) -> int:
    return sum(len(call.entries) for call in scenario.calls[:-1])


class Counting:
    """A retry policy's sleep that does not sleep, and counts."""

    def __init__(self) -> None:
        self.sleeps = 0

    def __call__(self, _seconds: float) -> None:
        self.sleeps += 1

    def policy(self) -> RetryPolicy:
        return RetryPolicy(sleep=self)


# -- simulated ----------------------------------------------------------------------------------

CERTAIN = Behaviour(pickup={part: dict.fromkeys(("18-29", "30-44", "45-59", "60+"), 1.0) for part in DAYPARTS},
                    busy=0.0)


class KeyPresser:
    """A simulated resident who presses the call's entries in order, two seconds each."""

    def __init__(self, call: Call) -> None:
        self.entries = list(call.entries)
        self.hang_up = call.hang_up

    def react(self, step: Step) -> tuple[Event, float]:
        if step.question_id is None and step.prompts[-1].key in MENU_KEYS:
            return Digits(MENU_KEYS[step.prompts[-1].key]), 2.0
        if self.entries:
            return Digits(self.entries.pop(0)), 2.0
        assert self.hang_up, f"the scenario has no key left for {step.question_id or step.prompts[-1].key}"
        return HangUp(), 2.0


class SimulatedDriver:
    name = "simulated"

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.harness_tasks: set[int] = set()
        self._sleeps = Counting()
        self.channel = SimulatedChannel(bench.sessions, bench.clock, WORLD, seed=3,
                                        behaviour=CERTAIN, resident=self._resident)
        self.channel.calls = CallService(bench.sessions, bench.clock, retry=self._sleeps.policy())
        self.dialer = CallService(bench.sessions, bench.clock, retry=self._sleeps.policy())
        self._call: Call | None = None

    @property
    def recoveries(self) -> int:
        return self._sleeps.sleeps

    def _resident(self, _person: Person, _q: Questionnaire, _rng: random.Random,
                  _path: Callable[[str], str]) -> KeyPresser:
        assert self._call is not None
        return KeyPresser(self._call)  # afresh for every try of the call's transaction

    def play(self, call: Call, *, duplicate: bool) -> None:
        self._call = call
        request = self.bench.dial(self.name)
        result = self.channel.place_call(request)
        assert result.status == CallStatus.ANSWERED, result
        assert self.dialer.finish(request.attempt_id, result) is not None
        if duplicate:  # the same result reported again (a worker retrying its report)
            assert self.dialer.finish(request.attempt_id, result) is None

    def fault_at(self, scenario: Scenario) -> int:
        return len(scenario.calls)  # one transaction per call: the last call's


# -- Twilio -------------------------------------------------------------------------------------

class _AnyTwiml:
    """The scenarios compare rows; the TwiML itself is checked against the schema in tests/twilio."""

    error_log = ""

    def validate(self, _doc: object) -> bool:
        return True


def _spoken_menu(spoken: str) -> str | None:
    for key, keys in MENU_KEYS.items():
        if Q.message(key.removeprefix("msg/"), "zh") in spoken:
            return keys
    return None


class TwilioDriver:
    name = "twilio"

    def __init__(self, bench: Bench, settings: Settings) -> None:
        self.bench, self.settings = bench, settings
        self.harness_tasks: set[int] = set()
        self.urls = WebhookUrls(settings.public_url)
        self._sleeps = Counting()
        app = Flask(__name__)
        services = Services(settings, bench.sessions, bench.clock)
        app.extensions["minyi"] = services
        hooks = build_webhooks(services)
        hooks.retry = self._sleeps.policy()
        app.extensions[EXTENSION] = hooks
        app.register_blueprint(bp, url_prefix="/twilio")
        self.app = app

    @property
    def recoveries(self) -> int:
        return self._sleeps.sleeps

    def play(self, call: Call, *, duplicate: bool) -> None:
        request = self.bench.dial(self.name)
        aid = request.attempt_id
        line = TwilioCall(self.app.test_client(), self.settings, _AnyTwiml(), aid,
                          "CA" + uuid.uuid4().hex)
        for status in ("initiated", "ringing"):
            line.notify(self.urls.status(aid), {"CallStatus": status})
        self._deliver(line, lambda: line.answer(self.urls.start(aid)), duplicate)
        line.notify(self.urls.amd(aid), {"AnsweredBy": "human"})
        entries = list(call.entries)
        while "Gather" in line.verbs():
            keys = _spoken_menu(" ".join(line.spoken()))
            if keys is None and not entries:
                assert call.hang_up, f"the scenario has no key left: {line.spoken()}"
                break  # the resident hangs up while the question is read
            if keys is None:
                keys = entries.pop(0).removesuffix("#")  # "#" ends the <Gather>: Twilio does not send it
            self.bench.clock.advance(timedelta(seconds=2))
            self._deliver(line, lambda k=keys: line.press(k), duplicate)  # type: ignore[misc]
        assert not entries, f"the call ended with keys left: {entries}"
        for _ in range(2 if duplicate else 1):
            line.notify(self.urls.status(aid), {"CallStatus": "completed", "CallDuration": "60"})

    @staticmethod
    def _deliver(line: TwilioCall, send: Callable[[], object], duplicate: bool) -> None:
        send()
        if duplicate:  # Twilio delivers the same request again: the same reply, nothing stored twice
            url, form, reply = line.log[-1]
            again = line.post(url, form)
            assert again.status_code == 200 and again.data == reply

    def fault_at(self, scenario: Scenario) -> int:
        return answers_before_last_call(scenario) + 3  # one transaction per webhook: the third answer


# -- Asterisk -----------------------------------------------------------------------------------

class RedeliveringAsterisk(FakeAsterisk):  # type: ignore[misc]
    """A fake Asterisk whose events of a channel's end (StasisEnd, ChannelDestroyed) reach the
    app twice, as after a re-delivery."""

    redeliver = False

    def _emit_channel(self, kind: str, ch: Any, **extra: Any) -> None:
        super()._emit_channel(kind, ch, **extra)
        if self.redeliver and kind in ("StasisEnd", "ChannelDestroyed"):
            super()._emit_channel(kind, ch, **extra)


class AsteriskDriver:
    name = "asterisk"

    def __init__(self, bench: Bench, fake: RedeliveringAsterisk, channel: AsteriskChannel) -> None:
        self.bench, self.fake, self.channel = bench, fake, channel
        self.harness_tasks: set[int] = set()
        self._sleeps = Counting()
        assert channel.app is not None
        channel.app.calls.retry = self._sleeps.policy()

    @property
    def recoveries(self) -> int:
        return self._sleeps.sleeps

    def play(self, call: Call, *, duplicate: bool) -> None:
        self.fake.redeliver = duplicate
        request = self.bench.dial(self.name)
        replies: list[Reply] = [Press(keys) for keys in call.entries]
        if call.hang_up:
            replies.append(HangsUp())
        self.fake.residents[request.number] = Resident(
            replies, by_prompt={key: Press(keys) for key, keys in MENU_KEYS.items()})
        assert self.channel.place_call(request) is None
        wait_until_idle(self.channel)

    def fault_at(self, scenario: Scenario) -> int:
        return answers_before_last_call(scenario) + 3  # one transaction per event: the third answer


# -- the staff console --------------------------------------------------------------------------

DISPOSITION = {InterviewStatus.COMPLETE: "complete", InterviewStatus.REFUSED: "refusal",
               InterviewStatus.OPTED_OUT: "opt_out", InterviewStatus.CALLBACK: "callback",
               InterviewStatus.SCREENED_OUT: "screened_out"}


class ConsoleDriver:
    """The interviewer takes the case's task from the queue, starts the interview (it resumes at
    the question where it stopped), enters the keys the resident says, and records the outcome;
    a resident who hangs up mid-way is recorded as "stopped part-way". After an error page the
    interviewer enters the same keys again."""

    name = "console"

    def __init__(self, bench: Bench, client: Client) -> None:
        self.bench, self.client = bench, client
        self.harness_tasks: set[int] = set()
        self.recoveries = 0

    def play(self, call: Call, *, duplicate: bool) -> None:
        with session_scope(self.bench.sessions) as s:
            task = open_task(s, survey_id=self.bench.survey_id, case_id=self.bench.case_id, kind=TaskKind.PARTIAL,
                             now=self.bench.clock.now(), note="scenario: call this resident")
            assert task is not None
            task_id = task.id
        self.harness_tasks.add(task_id)
        taken = self.client.post("/console/next")
        assert taken.headers["Location"].endswith(f"/console/task/{task_id}"), taken.headers.get("Location")
        path = f"/console/task/{task_id}"
        self._post(f"{path}/start", {"mode": "cati"})
        for keys in call.entries:
            self.bench.clock.advance(timedelta(seconds=2))
            self._post(f"{path}/keys", {"keys": keys})
        outcome, when = self._outcome(call)
        form: dict[str, object] = {"outcome": outcome}
        if when:
            form["callback_at"] = when  # staff_callback left unticked: the dialer calls back, as for the IVR
        self._post(f"{path}/disposition", form)
        if duplicate:  # the same form again (a double click, a resent request): the task is no longer held
            assert self.client.post(f"{path}/disposition", form).status_code == 403

    def _post(self, url: str, form: dict[str, object]) -> None:
        response = self.client.post(url, form)
        if response.status_code == 500:  # the error page: the interviewer does it again
            self.recoveries += 1
            response = self.client.post(url, form)
        assert response.status_code == 302, (url, response.status_code)
        page = self.client.text(response.headers["Location"])
        assert 'class="flash error"' not in page, page  # the console refused it

    def _outcome(self, call: Call) -> tuple[str, str | None]:
        """What the interviewer records: "stopped part-way" for a resident who hung up, else what
        the interview ended with; a callback at the time the resident chose (shown on the case)."""
        if call.hang_up:
            return "partial", None
        with self.bench.sessions() as s:
            status = s.scalars(select(Interview.status).where(Interview.case_id == self.bench.case_id)
                               .order_by(Interview.id.desc())).first()
            case = s.get(Case, self.bench.case_id)
            assert status is not None and case is not None
            if status != InterviewStatus.CALLBACK:
                return DISPOSITION[status], None
            assert case.callback_at is not None, "the resident's choice was not booked"
            return "callback", to_local(case.callback_at, Settings().centre_timezone).strftime("%Y-%m-%dT%H:%M")

    def fault_at(self, scenario: Scenario) -> int:
        return answers_before_last_call(scenario) + 3  # one request per entry: the third answer
