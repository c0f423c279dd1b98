"""Interviewers: the follow-up queue, the case workspace (CATI or door-to-door interview with the
IVR's keys), dispositions, callbacks, notes, concerns and revisit calls.

The full phone number appears on one page only: the workspace of a task the interviewer holds.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from calls import staff as ops
from calls import staff_lines
from calls.questionnaires import Questionnaires
from calls.visits import F2FError, start_visit
from ivr.channels.staff_lines import open_staff_line
from ivr.engine import Step
from office.concerns import CATEGORIES, REVISIT_RESULTS, ConcernError, awaiting_revisit
from survey.clock import from_local
from survey.models import CallAttempt, Concern, FollowUpTask, Interview, StaffCall, Survey
from survey.questionnaire import Questionnaire
from survey.vocabulary import STAFF_CALL_LIVE, InterviewMode, Role, StaffCallState, TaskKind, TaskStatus
from web.access import roles, user
from web.context import centre_zone, ctx, db
from web.forms import ActionForm, Form, refused, refused_at
from web.i18n import language, refusal
from web.labels import CONSOLE_OUTCOMES, term, terms
from web.listing import Filters, townships
from web.operations.answers import AnswerEditError, edit_answer
from web.operations.concern_intake import concern_from_case
from web.queries.questionnaires import questionnaire_of
from web.queries.queue import is_due, my_open_tasks, queue
from web.queries.script import answer_lines, current_screen
from web.request_values import plausible_moment, record_id
from web.scope import scope
from web.templating import local_time

bp = Blueprint("console", __name__, url_prefix="/console")



class StartForm(Form):
    mode = RadioField(choices=[InterviewMode.CATI, InterviewMode.F2F], default=InterviewMode.CATI)


class KeysForm(Form):
    keys = StringField(validators=[DataRequired(), Length(max=20)])


class OpenAnswerForm(Form):
    text = TextAreaField(validators=[Length(max=2000)])


class DispositionForm(Form):
    outcome = SelectField(choices=list(CONSOLE_OUTCOMES))
    callback_at = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[Optional(), plausible_moment])
    staff_callback = BooleanField(default=True)
    note = StringField(validators=[Length(max=500)])


class NoteForm(Form):
    text = TextAreaField(validators=[DataRequired(), Length(max=2000)])


class ConcernForm(Form):
    category = SelectField(choices=list(CATEGORIES))
    summary = TextAreaField(validators=[DataRequired(), Length(max=4000)])


class RevisitForm(Form):
    concern_id = HiddenField(validators=[DataRequired()])
    result = SelectField(choices=list(REVISIT_RESULTS))
    note = StringField(validators=[Length(max=500)])


class AnswerEditForm(Form):
    question_id = HiddenField(validators=[DataRequired()])
    keys = StringField(validators=[DataRequired(), Length(max=20)])
    reason = StringField(validators=[Length(max=200)])


class F2FForm(Form):
    survey_id = SelectField(coerce=int)
    township = SelectField()
    number = StringField(validators=[DataRequired(), Length(max=40)])


def _staff() -> ops.Staff:
    u = user()
    return ops.Staff(u.id, u.username)


def _held(task_id: int) -> FollowUpTask:
    task = db().get(FollowUpTask, task_id)
    if task is None:
        abort(404)
    if not ops.owned(task, _staff()):
        abort(403)
    return task


def _back(task: FollowUpTask) -> Response:
    return redirect(url_for("console.task", task_id=task.id))


def _say(step: Step) -> None:
    """Show the engine's system messages (invalid key, goodbye ...) after a redirect."""
    for prompt in step.prompts:
        if prompt.key.startswith("msg/"):
            flash(prompt.text, "engine")


def _refused(exc: Exception) -> None:
    db().rollback()
    flash(refusal(exc), "error")


@bp.route("/", endpoint="queue")
@roles(Role.INTERVIEWER)
def queue_page() -> str:
    staff, now, within, found = _staff(), ctx().clock.now(), scope(), Filters.from_request()
    page, due = queue(db(), staff.id, now, within, found)
    return render_template("console/queue.html", page=page, due=due, now=now, is_due=is_due, found=found,
                           townships=townships(db(), within), kinds=list(terms("task").items()),
                           mine=my_open_tasks(db(), staff.id), form=ActionForm())


@bp.route("/next", methods=["POST"])
@roles(Role.INTERVIEWER)
def next_case() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    task = ops.claim_next(db(), _staff(), ctx().clock, scope().where(FollowUpTask))
    if task is None:
        flash(_("No case is due right now."), "info")
        return redirect(url_for("console.queue"))
    return _back(task)


@bp.route("/task/<int:task_id>")
@roles(Role.INTERVIEWER)
def task(task_id: int) -> str:
    task = _held(task_id)
    session, staff, lang = db(), _staff(), language()
    case = task.case
    survey = session.get(Survey, case.survey_id)
    assert survey is not None
    q = questionnaire_of(survey)
    interview = ops.live_interview(session, task, staff)
    shown = interview or (session.get(Interview, task.interview_id) if task.interview_id else None)
    since = _visit_start(task)
    complete = interview is not None and interview.status == "complete"
    form_outcome = DispositionForm(outcome="complete") if complete else DispositionForm()
    calls = staff_lines.policy(session)
    tel = staff_lines.shows_number(calls)
    return render_template(
        "console/task.html", task=task, case=case, survey=survey,
        number=ctx().vault.decrypt(case.contact.number_enc) if tel else None, masked=case.contact.number_masked,
        staff_calls=bool(calls.provider) and task.kind != TaskKind.F2F_VISIT,
        staff_call=call_state(staff_lines.latest_call(session, task, staff)), interview=interview,
        screen=current_screen(interview, q, lang) if interview else None,
        answers=answer_lines(shown, q, lang, since) if shown else [],
        attempts=session.scalars(select(CallAttempt).where(CallAttempt.case_id == case.id,
                                                           CallAttempt.started_at >= (since or datetime.min))
                                 .order_by(CallAttempt.id.desc())).all(),
        concerns=session.scalars(select(Concern).where(Concern.case_id == case.id,
                                                       Concern.created_at >= (since or datetime.min))
                                 .order_by(Concern.id)).all(),
        awaiting=awaiting_revisit(session, case.id) if task.kind == TaskKind.REVISIT else [],
        categories=CATEGORIES, revisit_results=REVISIT_RESULTS, outcomes=CONSOLE_OUTCOMES,
        start_form=StartForm(mode=InterviewMode.F2F if task.kind == TaskKind.F2F_VISIT else InterviewMode.CATI),
        keys_form=KeysForm(), open_form=OpenAnswerForm(), disposition_form=form_outcome, note_form=NoteForm(),
        concern_form=ConcernForm(), revisit_form=RevisitForm(), edit_form=AnswerEditForm(), form=ActionForm())


def call_state(call: StaffCall | None) -> dict[str, object] | None:
    """A staff-placed call as the console shows it: its state, when it got there, and what the
    system coded (busy, no answer ...)."""
    if call is None:
        return None
    at = {StaffCallState.PLACED: call.placed_at, StaffCallState.STAFF_ANSWERED: call.staff_answered_at,
          StaffCallState.RINGING: call.ringing_at, StaffCallState.TALKING: call.answered_at,
          StaffCallState.ENDED: call.ended_at}[StaffCallState(call.state)]
    return {"id": call.id, "state": call.state, "label": term("staff_call", call.state),
            "at": local_time(at, "%H:%M:%S"), "live": call.state in STAFF_CALL_LIVE,
            "end": term("staff_call_end", call.end) if call.end else "",
            "coded": str(CONSOLE_OUTCOMES.get(call.coded or "", ""))}


def _line(provider: str) -> staff_lines.StaffLine:
    return open_staff_line(provider, ctx().settings)


@bp.route("/task/<int:task_id>/call", methods=["POST"])
@roles(Role.INTERVIEWER)
def call(task_id: int) -> Response:
    """Place the call: the interviewer's own phone rings first, then the resident's."""
    task = _held(task_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        provider = staff_lines.policy(db()).provider
        if not provider:
            raise ops.ConsoleError("the system does not place calls: dial the number yourself")
        staff_lines.place(db(), task, _staff(), _line(provider), ctx().clock, ctx().vault, Questionnaires())
        flash(_("Your phone rings first; the resident is dialled when you answer."), "info")
    except (ops.ConsoleError, staff_lines.StaffLineError) as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/hang-up", methods=["POST"])
@roles(Role.INTERVIEWER)
def hang_up(task_id: int) -> Response:
    task = _held(task_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    placed = staff_lines.latest_call(db(), task, _staff())
    if placed is not None:
        try:
            staff_lines.hang_up(db(), placed, _staff(), _line(placed.provider), ctx().clock)
        except (ops.ConsoleError, staff_lines.StaffLineError) as exc:
            _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/call.json")
@roles(Role.INTERVIEWER)
def call_json(task_id: int) -> Response:
    """The task's call for the page to poll; once the system has coded it the task is closed, and
    the page goes back to the queue."""
    task = db().get(FollowUpTask, task_id)
    if task is None:
        abort(404)
    latest = db().scalars(select(StaffCall).where(StaffCall.task_id == task.id, StaffCall.staff_id == _staff().id)
                          .order_by(StaffCall.id.desc()).limit(1)).first()
    if latest is None and not ops.owned(task, _staff()):
        abort(403)
    state = call_state(latest)
    done = task.status != TaskStatus.IN_PROGRESS
    return jsonify({"call": state, "done": done, "queue": url_for("console.queue")})


def _visit_start(task: FollowUpTask) -> datetime | None:
    """A door-to-door visit shows only what happened since it began: the number was typed by the
    interviewer, so the case's earlier answers, calls and concerns are not theirs to see."""
    return task.created_at if task.kind == TaskKind.F2F_VISIT else None


def _questionnaire(task: FollowUpTask) -> Questionnaire:
    survey = db().get(Survey, task.survey_id)
    assert survey is not None
    return questionnaire_of(survey)


@bp.route("/task/<int:task_id>/start", methods=["POST"])
@roles(Role.INTERVIEWER)
def start(task_id: int) -> Response:
    task, form = _held(task_id), StartForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    try:
        _say(ops.start_interview(db(), task, _staff(), _questionnaire(task), ctx().clock, form.mode.data or ""))
    except ops.ConsoleError as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/keys", methods=["POST"])
@roles(Role.INTERVIEWER)
def keys(task_id: int) -> Response:
    task, form = _held(task_id), KeysForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    try:
        _say(ops.enter_keys(db(), task, _staff(), _questionnaire(task), ctx().clock, form.keys.data or ""))
    except ops.ConsoleError as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/open-answer", methods=["POST"])
@roles(Role.INTERVIEWER)
def open_answer(task_id: int) -> Response:
    task, form = _held(task_id), OpenAnswerForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    try:
        _say(ops.enter_open_answer(db(), task, _staff(), _questionnaire(task), ctx().clock, form.text.data or ""))
    except ops.ConsoleError as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/answer", methods=["POST"])
@roles(Role.INTERVIEWER)
def edit(task_id: int) -> Response:
    task, form = _held(task_id), AnswerEditForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    interview = ops.live_interview(db(), task, _staff())
    if interview is None:
        flash(_("Answers can be corrected only while the interview is open."), "error")
        return _back(task)
    try:
        edit_answer(db(), interview, _questionnaire(task), form.question_id.data or "", form.keys.data or "",
                    ctx().clock, user_id=_staff().id, reason=form.reason.data or "")
        flash(_("Answer corrected."), "info")
    except AnswerEditError as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/disposition", methods=["POST"])
@roles(Role.INTERVIEWER)
def disposition(task_id: int) -> Response:
    task, form = _held(task_id), DispositionForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    when: datetime | None = from_local(form.callback_at.data, centre_zone()) if form.callback_at.data else None
    try:
        ops.record_disposition(db(), task, _staff(), _questionnaire(task), ctx().clock, form.outcome.data or "",
                               callback_at=when, staff_callback=bool(form.staff_callback.data),
                               note=form.note.data or "")
    except ops.ConsoleError as exc:  # about the outcome chosen: a callback's time, or an interview's state
        db().rollback()
        field = "callback_at" if form.outcome.data == "callback" else "outcome"
        return refused_at(form, field, refusal(exc), _back(task))
    flash(_("Recorded: %(outcome)s.", outcome=CONSOLE_OUTCOMES[form.outcome.data or ""]), "info")
    return redirect(url_for("console.queue"))


@bp.route("/task/<int:task_id>/release", methods=["POST"])
@roles(Role.INTERVIEWER)
def release(task_id: int) -> Response:
    task = _held(task_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        ops.release(db(), task, _staff(), ctx().clock)
    except ops.ConsoleError as exc:
        _refused(exc)
        return _back(task)
    return redirect(url_for("console.queue"))


@bp.route("/task/<int:task_id>/note", methods=["POST"])
@roles(Role.INTERVIEWER)
def note(task_id: int) -> Response:
    task, form = _held(task_id), NoteForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    ops.add_note(task, _staff(), ctx().clock, form.text.data or "")
    return _back(task)


@bp.route("/task/<int:task_id>/concern", methods=["POST"])
@roles(Role.INTERVIEWER)
def concern(task_id: int) -> Response:
    task, form = _held(task_id), ConcernForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    try:
        concern_from_case(db(), task.case, ctx().clock, category=form.category.data or "",
                          summary=form.summary.data or "", user_id=_staff().id)
        flash(_("Concern registered (受理)."), "info")
    except ConcernError as exc:
        _refused(exc)
    return _back(task)


@bp.route("/task/<int:task_id>/revisit", methods=["POST"])
@roles(Role.INTERVIEWER)
def revisit(task_id: int) -> Response:
    task, form = _held(task_id), RevisitForm()
    if not form.validate_on_submit():
        return refused(form, _back(task))
    try:
        concern = db().get(Concern, record_id(form.concern_id.data))
    except ValueError:
        abort(400)
    if concern is None:
        abort(404)
    try:
        ops.record_revisit_answer(db(), task, _staff(), ctx().clock, concern, form.result.data or "",
                                  form.note.data or "")
    except (ops.ConsoleError, ConcernError) as exc:
        _refused(exc)
        return _back(task)
    return redirect(url_for("console.queue")) if task.status == "done" else _back(task)


@bp.route("/task/<int:task_id>/not-reached", methods=["POST"])
@roles(Role.INTERVIEWER)
def not_reached(task_id: int) -> Response:
    task = _held(task_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        ops.revisit_not_reached(db(), task, _staff(), ctx().clock)
    except ops.ConsoleError as exc:
        _refused(exc)
        return _back(task)
    return redirect(url_for("console.queue"))


@bp.route("/f2f", methods=["GET", "POST"])
@roles(Role.INTERVIEWER)
def f2f() -> Response | str:
    form, within = F2FForm(), scope()
    surveys = db().scalars(select(Survey).where(Survey.status == "active", within.where(Survey))
                           .order_by(Survey.id.desc())).all()
    townships = [(s, t) for s in surveys for t in within.only(s.strata, lambda t: t.code)]
    form.survey_id.choices = [str(s.id) for s in surveys]
    form.township.choices = [f"{s.id}:{t.code}" for s, t in townships]
    if form.validate_on_submit():
        try:
            task = start_visit(db(), _staff(), ctx().vault, ctx().clock, survey_id=form.survey_id.data or 0,
                               township=form.township.data or "", number=form.number.data or "")
        except F2FError as exc:
            _refused(exc)
        else:
            return _back(task)
    return render_template("console/f2f.html", form=form, surveys=surveys, townships=townships)
