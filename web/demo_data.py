"""A small, realistic county for trying the web app and for its tests and screenshots.

:func:`seed` writes, through the real code paths (``create_survey``, ``PhoneVault``, the interview
engine via ``InterviewSession``, ``office.concerns``): staff of every role, five townships with
quotas, sampled numbers, IVR interviews (complete, partial, operator requests), answer recordings
(short WAV files), follow-up tasks of every kind, call attempts and concerns at every stage.
Everything is deterministic, so tests can name what they expect.
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.interviews import InterviewSession, open_interview
from dialer.followup import open_task
from ivr.engine import Answered, Digits, Event, HangUp, RecordingDone
from office import concerns
from office.users import create_user
from reports.results import bundled_analysis_spec
from survey.clock import Clock
from survey.models import (
    CallAttempt,
    Case,
    Contact,
    FollowUpTask,
    Interview,
    Recording,
    Stratum,
    Survey,
    Unit,
)
from survey.phones import PhoneVault
from survey.questionnaire import Questionnaire, load_bundled
from survey.surveys import StratumSpec, create_survey
from survey.vocabulary import CaseStatus, ConcernStatus, InterviewMode, Role, TaskKind

DEMO_PASSWORD = "minyi-demo-2026"
SURVEY_CODE = "2026-11"
TOWNSHIPS = (("T01", "城关镇", "Chengguan"), ("T02", "东湖街道", "Donghu"), ("T03", "青山乡", "Qingshan"),
             ("T04", "石桥镇", "Shiqiao"), ("T05", "河西乡", "Hexi"))
UNITS = (("PS01", "城关派出所", "Chengguan Police Station", "T01"),
         ("TP01", "县交警大队", "County Traffic Police", None),
         ("JS03", "青山司法所", "Qingshan Justice Office", "T03"))
# username -> (role, township scope, unit code)
STAFF: dict[str, tuple[str, list[str] | None, str | None]] = {
    "admin": (Role.ADMIN, None, None),
    "supervisor": (Role.SUPERVISOR, None, None),
    "interviewer": (Role.INTERVIEWER, None, None),
    "interviewer2": (Role.INTERVIEWER, None, None),
    "transcriber": (Role.TRANSCRIBER, None, None),
    "official": (Role.OFFICIAL, None, None),
    "official_t01": (Role.OFFICIAL, ["T01"], None),
    "supervisor_t01": (Role.SUPERVISOR, ["T01"], None),
    "transcriber_t01": (Role.TRANSCRIBER, ["T01"], None),
    "interviewer_t01": (Role.INTERVIEWER, ["T01"], None),
    "unit_ps01": (Role.UNIT, None, "PS01"),
}
DISPLAY = {"admin": "系统管理员", "supervisor": "督导 王芳", "interviewer": "访员 李静", "interviewer2": "访员 赵强",
           "transcriber": "转录员 陈晨", "official": "县委政法委", "official_t01": "城关镇综治办",
           "supervisor_t01": "城关镇督导 周敏", "transcriber_t01": "城关镇转录员 吴洁", "interviewer_t01": "城关镇访员 郑凯",
           "unit_ps01": "城关派出所"}
PARTIAL_KEYS = ("1", "1", "1", "1", "2")  # language, consent, two screening questions, q_safety: stops at q_trend
PARTIAL_RESUMES_AT = "q_trend"


@dataclass
class Demo:
    """Ids of what :func:`seed` made, for tests to find."""

    survey_id: int
    users: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    strata: dict[str, int] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)  # case id -> E.164 (for leak checks)
    partial_task_id: int = 0
    partial_case_id: int = 0
    tasks: dict[str, list[int]] = field(default_factory=dict)  # kind -> task ids
    recordings: list[int] = field(default_factory=list)
    concerns: dict[str, int] = field(default_factory=dict)  # status -> one concern id


def seed(session: Session, clock: Clock, *, secret_key: str, recordings_dir: Path,
         cases_per_township: int = 12) -> Demo:
    """Write the demo county into an empty, migrated database (the caller commits)."""
    q = load_bundled()
    survey = create_survey(session, SURVEY_CODE, q, clock, period="2026-11", issue_no=12,
                           strata=[StratumSpec(c, zh, en, quota=8, population=_census(i))
                                   for i, (c, zh, en) in enumerate(TOWNSHIPS)],
                           name="2026年11月公众安全感和政法机关执法满意度调查",
                           settings={"analysis_spec": bundled_analysis_spec()})
    demo = Demo(survey_id=survey.id, strata={s.code: s.id for s in survey.strata})
    _units(session, demo)
    _staff(session, clock, demo)
    builder = _CaseBuilder(session, clock, q, survey, PhoneVault(secret_key), recordings_dir, demo)
    for s in survey.strata:
        builder.township(s, cases_per_township)
    _concerns(session, clock, demo)
    session.flush()
    return demo


def _census(i: int) -> list[dict[str, object]]:
    """Adults by age group and sex (the weighting cells of the bundled analysis spec)."""
    ages = {"18-29": 0.19, "30-44": 0.27, "45-59": 0.29, "60+": 0.25}
    total = 18_000 + 4_000 * i
    return [{"age_group": age, "sex": sex, "N": int(total * share * (0.51 if sex == "M" else 0.49))}
            for age, share in ages.items() for sex in ("M", "F")]


def _units(session: Session, demo: Demo) -> None:
    for code, zh, en, township in UNITS:
        unit = Unit(code=code, name_zh=zh, name_en=en, township_code=township)
        session.add(unit)
        session.flush()
        demo.units[code] = unit.id


def _staff(session: Session, clock: Clock, demo: Demo) -> None:
    for name, (role, scope, unit) in STAFF.items():
        user = create_user(session, name, DEMO_PASSWORD, role, clock, township_scope=scope,
                           unit_id=demo.units[unit] if unit else None, display_name=DISPLAY[name])
        demo.users[name] = user.id


def write_tone(path: Path, seconds: float = 2.0, hz: float = 440.0, rate: int = 8000) -> None:
    """A short mono 16-bit WAV: enough for the browser's audio player to play something."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


class _CaseBuilder:
    """Makes cases in one township by running the real interview engine over scripted keys."""

    def __init__(self, session: Session, clock: Clock, q: Questionnaire, survey: Survey, vault: PhoneVault,
                 recordings_dir: Path, demo: Demo) -> None:
        self.session, self.clock, self.q, self.survey = session, clock, q, survey
        self.vault, self.recordings_dir, self.demo = vault, recordings_dir, demo
        self.serial = 0

    def township(self, stratum: Stratum, count: int) -> None:
        plan = ["complete"] * 5 + ["partial", "operator", "callback", "refusal", "busy", "new", "new"]
        for i in range(count):
            getattr(self, "_" + plan[i % len(plan)])(stratum, i)

    def _case(self, stratum: Stratum, status: str = CaseStatus.NEW) -> Case:
        self.serial += 1
        e164 = f"+86138{stratum.code[-2:]}{self.serial:06d}"
        now = self.clock.now()
        contact = Contact(**self.vault.contact_row(e164, "mobile"))
        self.session.add(contact)
        self.session.flush()
        case = Case(survey_id=self.survey.id, stratum_id=stratum.id, contact_id=contact.id, status=status,
                    created_at=now - timedelta(days=2), updated_at=now)
        self.session.add(case)
        self.session.flush()
        self.demo.numbers[case.id] = e164
        return case

    def _attempt(self, case: Case, temp: str, outcome: str, status: str, minutes_ago: int) -> CallAttempt:
        start = self.clock.now() - timedelta(minutes=minutes_ago)
        attempt = CallAttempt(case_id=case.id, survey_id=case.survey_id, channel="simulated", status=status,
                              started_at=start, answered_at=start + timedelta(seconds=8),
                              ended_at=start + timedelta(minutes=3), outcome=outcome, temp_disposition=temp)
        self.session.add(attempt)
        case.attempts += 1
        case.last_temp_disposition = temp
        self.session.flush()
        return attempt

    def _interview(self, case: Case, attempt: CallAttempt, events: list[Event]) -> Interview:
        interview = open_interview(self.session, case, self.q, self.clock, mode=InterviewMode.IVR,
                                   attempt_id=attempt.id)
        runner = InterviewSession(self.session, interview, self.q, self.clock)
        for event in [Answered(), *events]:
            runner.handle(event)
        case.contacted = True
        return interview

    def _task(self, case: Case, kind: str, interview: Interview | None, minutes_ago: int, note: str) -> None:
        due = self.clock.now() - timedelta(minutes=minutes_ago)
        task = open_task(self.session, survey_id=case.survey_id, case_id=case.id, kind=TaskKind(kind), now=due,
                         interview_id=interview.id if interview else None, note=note)
        assert task is not None  # a new case
        self.demo.tasks.setdefault(kind, []).append(task.id)
        case.status = CaseStatus.FOLLOW_UP

    def _complete(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum)
        attempt = self._attempt(case, "1.1", "answered", "completed", 30 + 7 * i)
        safety = str(1 + (i + self.serial) % 5)
        suggest = i % 3 == 0
        keys = ["1", "1", "1", "1", safety]
        if safety in ("4", "5"):
            keys.append("12#")
        keys += [str(1 + i % 3), str(1 + (i + 1) % 5), "2", "1", "3", str(1 + i % 4), "1" if suggest else "2"]
        events: list[Event] = [Digits(k) for k in keys]
        if suggest:
            path = f"demo/{stratum.code}-{case.id}-q_suggest.wav"
            write_tone(self.recordings_dir / path)
            events.append(RecordingDone(path, 2.0))
        events += [Digits(str(1 + i % 4)), Digits(str(1 + i % 2)), Digits(f"{5 + i}#")]
        interview = self._interview(case, attempt, events)
        case.status, case.final_disposition, case.final_at = CaseStatus.FINAL, "1.1", interview.completed_at
        self.demo.recordings += [r.id for r in self.session.scalars(
            select(Recording).where(Recording.interview_id == interview.id))]

    def _partial(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum)
        attempt = self._attempt(case, "1.2", "answered", "completed", 20 + i)
        interview = self._interview(case, attempt, [*map(Digits, PARTIAL_KEYS), HangUp()])
        self._task(case, TaskKind.PARTIAL, interview, 15 + i, "语音访问中途挂断，请人工续访")
        if not self.demo.partial_task_id:
            self.demo.partial_task_id = self.demo.tasks[TaskKind.PARTIAL][-1]
            self.demo.partial_case_id = case.id

    def _operator(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum)
        attempt = self._attempt(case, "2.30", "answered", "completed", 40 + i)
        interview = self._interview(case, attempt, [Digits("1"), Digits("1"), Digits("0")])
        case.status = CaseStatus.FOLLOW_UP  # the engine's effect added the operator task
        self.session.flush()
        self.demo.tasks.setdefault(TaskKind.OPERATOR, []).extend(self.session.scalars(
            select(FollowUpTask.id).where(FollowUpTask.interview_id == interview.id)))

    def _callback(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum)
        self._attempt(case, "2.21", "answered", "completed", 90 + i)
        case.callback_at = self.clock.now() - timedelta(minutes=5)
        self._task(case, TaskKind.CALLBACK, None, 5, "居民要求今晚回电")

    def _refusal(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum)
        attempt = self._attempt(case, "2.11", "answered", "completed", 120 + i)
        interview = self._interview(case, attempt, [Digits("1"), Digits("3")])
        self._task(case, TaskKind.REFUSAL_CONVERSION, interview, 60, "婉拒，可再尝试一次")

    def _busy(self, stratum: Stratum, i: int) -> None:
        case = self._case(stratum, CaseStatus.SCHEDULED)
        attempt = self._attempt(case, "3.12", "busy", "busy", 10 + i)
        attempt.answered_at = None
        case.next_attempt_at = self.clock.now() + timedelta(minutes=15)

    def _new(self, stratum: Stratum, i: int) -> None:
        self._case(stratum)


# What residents said in the demo recordings, and how far each concern has got.
STORIES = (
    ("theft", "PS01", "村口路灯晚上不亮，最近好几户的电动车被偷了，希望派出所晚上多来巡逻。", ConcernStatus.RECEIVED),
    ("fraud", "PS01", "最近老有人冒充客服打电话骗钱，村里老人容易上当，希望多上门宣传防诈骗。", ConcernStatus.ASSIGNED),
    ("traffic", "TP01", "学校门口早晚高峰车辆乱停乱放，孩子过马路很危险。", ConcernStatus.IN_PROGRESS),
    ("theft", "PS01", "菜市场附近经常有人偷手机，报警以后一直没有回音。", "overdue"),
    ("disputes", "PS01", "邻居长期占用楼道堆放杂物，协商多次没有解决，存在消防隐患。", ConcernStatus.RESOLVED),
    ("noise", "PS01", "附近工地晚上十点以后还在施工，噪音很大，影响休息。", ConcernStatus.REVISITED),
)


class _Earlier:
    """``clock`` moved back by ``delta``: for concerns that were raised days ago."""

    def __init__(self, clock: Clock, delta: timedelta) -> None:
        self.clock, self.delta = clock, delta

    def now(self) -> datetime:
        return self.clock.now() - self.delta

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def _concerns(session: Session, clock: Clock, demo: Demo) -> None:
    users = demo.users
    for recording_id, (category, unit, text, stage) in zip(demo.recordings, STORIES, strict=False):
        recording = session.get(Recording, recording_id)
        assert recording is not None
        earlier = _Earlier(clock, timedelta(days=10 if stage == "overdue" else 2))
        recording.transcription, recording.category = text, category
        recording.transcribed_by, recording.transcribed_at = users["transcriber"], earlier.now()
        case = recording.case
        concern = concerns.receive(session, earlier, survey_id=case.survey_id, stratum_id=case.stratum_id,
                                   category=category, summary=text, user_id=users["transcriber"],
                                   case_id=case.id, recording_id=recording.id)
        demo.concerns[stage] = concern.id
        if stage == ConcernStatus.RECEIVED:
            continue
        concerns.assign(session, concern, earlier, unit_id=demo.units[unit], user_id=users["supervisor"],
                        deadline=earlier.now() + timedelta(days=7), note="请按期办结并反馈")
        if stage in (ConcernStatus.ASSIGNED, "overdue"):
            continue
        concerns.add_note(session, concern, clock, user_id=users["unit_ps01"], note="已安排民警实地走访核实。")
        if stage == ConcernStatus.IN_PROGRESS:
            continue
        concerns.resolve(session, concern, clock, user_id=users["unit_ps01"],
                         note="已约谈相关人员并督促整改，问题已解决。")
        if stage == ConcernStatus.REVISITED:
            concerns.record_revisit(session, concern, clock, user_id=users["interviewer"], result=concerns.FIXED,
                                    note="居民表示问题已解决，表示满意。")
