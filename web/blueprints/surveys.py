"""Supervisors: survey rounds — questionnaires (upload, validation with locations, preview),
creation, quotas, calling windows, the fieldwork settings file, sample frames, and starting or
pausing the dialer."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dialer import fieldwork
from dialer.counts import totals
from dialer.policy import Fieldwork
from dialer.quotas import progress
from jobs.progress import percent, state
from jobs.sample_import import KIND as SAMPLE_IMPORT
from jobs.sample_import import SampleOptions, queue_sample_import, recent_jobs, rejected_csv
from survey.errors import Refused
from survey.models import Job, Survey, User
from survey.models import Questionnaire as QuestionnaireRow
from survey.questionnaire import QuestionnaireError, loads
from survey.surveys import MAX_QUOTA
from survey.vocabulary import JobStatus, Role
from web import auditing
from web.access import roles, user
from web.analysis_inputs import missing_messages
from web.context import ctx, db
from web.forms import ActionForm, Form, keep_typed
from web.i18n import refusal
from web.labels import terms
from web.listing import Filters, paginate
from web.operations import surveys as ops
from web.queries.downloads import file_part
from web.scope import fetch, scope

bp = Blueprint("surveys", __name__, url_prefix="/surveys")


class UploadForm(FlaskForm):
    file = FileField(validators=[FileRequired()])


class NewSurveyForm(FlaskForm):
    code = StringField(validators=[DataRequired(), Length(max=80)])
    name = StringField(validators=[Length(max=200)])
    period = StringField(validators=[Length(max=40)])
    questionnaire_id = SelectField(coerce=int)
    quota = IntegerField(default=0, validators=[NumberRange(min=0, max=MAX_QUOTA)])
    strata = FileField(validators=[FileRequired()])
    population = FileField()
    indices = FileField()


class InputsForm(FlaskForm):
    population = FileField()
    indices = FileField()


# What a field of the new-survey form checks, in words the form shows (the validators' own are English only).
FIELD_PROBLEMS = {
    "code": _l("Code: give the round a code (at most 80 characters), e.g. 2026-12."),
    "name": _l("Name: at most 200 characters."),
    "period": _l("Period: at most 40 characters."),
    "questionnaire_id": _l("Questionnaire: choose a stored questionnaire (upload one on the surveys page first)."),
    "quota": _l("Completes wanted per township: a whole number from 0 to 1,000,000."),
    "strata": _l("Townships: choose the townships CSV file."),
}


class WindowsForm(Form):
    weekday = StringField(validators=[Length(max=200)])
    weekend = StringField(validators=[Length(max=200)])


class SampleForm(FlaskForm):
    file = FileField(validators=[FileRequired()])
    skip_invalid = BooleanField()
    replicate_size = IntegerField(validators=[Optional(), NumberRange(min=1)])
    allow_foreign = BooleanField()
    allow_service = BooleanField()


def _survey(survey_id: int, *, whole: bool = False) -> Survey:
    """The survey if the user may see it (404 otherwise); ``whole``: a change to the whole round
    (status, calling windows, sample), which a supervisor limited to some townships may not make (403)."""
    survey = fetch(Survey, survey_id)
    if whole:
        _whole_county()
    return survey


def _whole_county() -> None:
    if scope().limited:
        abort(403)


def _refused(exc: Exception) -> None:
    db().rollback()
    flash(refusal(exc), "error")


@bp.route("/")
@roles(Role.SUPERVISOR)
def index() -> str:
    """The survey rounds a page at a time, newest first, by status and creation day."""
    session = db()
    within = scope()
    found = Filters.from_request()
    query = select(Survey).where(within.where(Survey), found.between(Survey.created_at)).order_by(Survey.id.desc())
    if found.status:
        query = query.where(Survey.status == found.status)
    page = paginate(session, query)
    counts = totals(session, [s.id for s in page.items], within.case_counts())
    return render_template("surveys/index.html", counts=counts, upload=UploadForm(), whole=not within.limited,
                           page=page, found=found, statuses=list(terms("survey").items()),
                           questionnaires=session.scalars(select(QuestionnaireRow)
                                                          .order_by(QuestionnaireRow.id.desc())).all())


@bp.route("/questionnaires", methods=["POST"])
@roles(Role.SUPERVISOR)
def upload_questionnaire() -> Response | tuple[str, int]:
    _whole_county()
    form = UploadForm()
    if not form.validate_on_submit():  # the CSRF token was checked before the view: no file was chosen
        flash(_("Choose a questionnaire file (YAML or XLSForm) to upload."), "error")
        return redirect(url_for("surveys.index"))
    upload = form.file.data
    try:
        q = ops.parse_questionnaire(upload.filename or "questionnaire.yaml", upload.read())
    except QuestionnaireError as exc:
        return render_template("surveys/problems.html", filename=upload.filename, problems=exc.problems), 422
    try:
        row = ops.add_questionnaire(db(), q, ctx().clock, user().id)
    except ops.SurveyChangeError as exc:
        _refused(exc)
        return redirect(url_for("surveys.index"))
    flash(_("Questionnaire %(qid)s version %(version)s is valid and stored.", qid=row.qid, version=row.version),
          "info")
    return redirect(url_for("surveys.questionnaire", questionnaire_id=row.id))


@bp.route("/questionnaires/<int:questionnaire_id>")
@roles(Role.SUPERVISOR)
def questionnaire(questionnaire_id: int) -> str:
    row = db().get(QuestionnaireRow, questionnaire_id)
    if row is None:
        abort(404)
    q = loads(row.source, name=f"{row.qid} v{row.version}")
    return render_template("surveys/questionnaire.html", row=row, q=q)


@bp.route("/new", methods=["GET", "POST"])
@roles(Role.SUPERVISOR)
def new() -> Response | str | tuple[str, int]:
    _whole_county()
    form = NewSurveyForm()
    rows = db().scalars(select(QuestionnaireRow).order_by(QuestionnaireRow.id.desc())).all()
    form.questionnaire_id.choices = [(r.id, f"{r.qid} v{r.version}") for r in rows]
    if not form.is_submitted():
        return render_template("surveys/new.html", form=form)
    valid = form.validate()  # the CSRF token was checked before the view (CSRFProtect)
    problems = [str(FIELD_PROBLEMS.get(name, name)) for name in form.errors]
    if valid:
        try:
            survey = _create(form)
        except ops.SurveyChangeError as exc:
            db().rollback()
            problems = [refusal(exc)]
        else:
            return redirect(url_for("surveys.detail", survey_id=survey.id))
    return render_template("surveys/new.html", form=form, problems=problems), 422


def _create(form: NewSurveyForm) -> Survey:
    row = db().get(QuestionnaireRow, form.questionnaire_id.data)
    strata = _upload(form.strata.data)
    if row is None or strata is None:
        raise ops.SurveyChangeError(str(FIELD_PROBLEMS["questionnaire_id" if row is None else "strata"]))
    survey = ops.new_survey(db(), ctx().clock, user().id, code=form.code.data or "", name=form.name.data or "",
                            period=form.period.data or "", questionnaire=loads(row.source),
                            quota=form.quota.data or 0, strata_file=strata,
                            population_file=_upload(form.population.data),
                            indices_file=_upload(form.indices.data))
    for sentence in missing_messages(survey):
        flash(sentence, "error")
    return survey


def _upload(data: FileStorage | None) -> tuple[str, bytes] | None:
    """A chosen file's name and bytes; None when no file was chosen."""
    if not isinstance(data, FileStorage) or not data.filename:
        return None
    return data.filename, data.read()


@bp.route("/<int:survey_id>")
@roles(Role.SUPERVISOR)
def detail(survey_id: int) -> str:
    return _page(_survey(survey_id))


def _page(survey: Survey) -> str:
    """The survey's page."""
    windows = survey.calling_windows or {}
    return render_template(
        "surveys/detail.html", survey=survey, action=ActionForm(), whole=not scope().limited,
        progress=scope().only(progress(db(), survey.id), lambda p: p.code),
        windows=WindowsForm(weekday=", ".join(windows.get("weekday", ["18:30-21:00"])),
                            weekend=", ".join(windows.get("weekend", ["09:00-21:00"]))),
        fieldwork_upload=UploadForm(), **_fieldwork(survey), inputs=InputsForm(), missing=missing_messages(survey),
        sample=SampleForm(), sample_jobs=recent_jobs(db(), survey.id) if not scope().limited else [],
        percent=percent, job_status=_status)


def _fieldwork(survey: Survey) -> dict[str, str | None]:
    """The survey's fieldwork settings file (quotas of the user's townships only), or why it cannot be shown."""
    try:
        stored = fieldwork.of_survey(survey)
    except Refused as exc:
        return {"fieldwork_text": None, "fieldwork_problem": refusal(exc)}
    quotas = dict(scope().only(list(stored.quotas.items()), lambda item: item[0]))
    return {"fieldwork_text": fieldwork.dump(Fieldwork(stored.policy, quotas)), "fieldwork_problem": None}


@bp.route("/<int:survey_id>/inputs", methods=["POST"])
@roles(Role.SUPERVISOR)
def analysis_inputs(survey_id: int) -> Response:
    """Upload the round's population counts and/or index definitions (docs/formats.md)."""
    survey, form = _survey(survey_id, whole=True), InputsForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        ops.set_analysis_inputs(db(), survey, ctx().clock, user().id,
                                population_file=_upload(form.population.data),
                                indices_file=_upload(form.indices.data))
    except ops.SurveyChangeError as exc:
        _refused(exc)
    else:
        flash(_("Analysis inputs saved."), "info")
    return redirect(url_for("surveys.detail", survey_id=survey.id) + "#analysis-inputs")


@bp.route("/<int:survey_id>/status", methods=["POST"])
@roles(Role.SUPERVISOR)
def status(survey_id: int) -> Response:
    survey = _survey(survey_id, whole=True)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        ops.set_status(db(), survey, request.form.get("action", ""), ctx().clock, user().id)
    except ops.SurveyChangeError as exc:
        _refused(exc)
    return redirect(url_for("surveys.detail", survey_id=survey.id))


@bp.route("/<int:survey_id>/quotas", methods=["POST"])
@roles(Role.SUPERVISOR)
def quotas(survey_id: int) -> Response:
    survey = _survey(survey_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        wanted = {s.code: int(request.form.get(f"quota-{s.code}", s.quota))
                  for s in scope().only(survey.strata, lambda s: s.code)}
        ops.set_quotas(db(), survey, wanted, ctx().clock, user().id)
    except ValueError as exc:
        _refused(exc)
    else:
        flash(_("Quotas saved."), "info")
    return redirect(url_for("surveys.detail", survey_id=survey.id))


@bp.route("/<int:survey_id>/windows", methods=["POST"])
@roles(Role.SUPERVISOR)
def windows(survey_id: int) -> Response:
    survey, form = _survey(survey_id, whole=True), WindowsForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        ops.set_windows(db(), survey, weekday=form.weekday.data or "", weekend=form.weekend.data or "",
                        clock=ctx().clock, user_id=user().id)
    except Refused as exc:
        _refused(exc)
        keep_typed(form)
    else:
        flash(_("Calling windows saved."), "info")
    return redirect(url_for("surveys.detail", survey_id=survey.id))


@bp.route("/<int:survey_id>/fieldwork", methods=["POST"])
@roles(Role.SUPERVISOR)
def fieldwork_settings(survey_id: int) -> Response:
    """Upload a fieldwork settings file; a wrong value is shown on the page and nothing is stored."""
    survey, form = _survey(survey_id, whole=True), UploadForm()
    if not form.validate_on_submit():  # the CSRF token was checked before the view: no file was chosen
        flash(_("Choose a fieldwork settings file (YAML) to upload."), "error")
        return redirect(url_for("surveys.detail", survey_id=survey.id) + "#fieldwork")
    upload = form.file.data
    try:
        changed = ops.set_fieldwork(db(), survey, upload.filename or "fieldwork.yaml", upload.read(), ctx().clock,
                                    user().id)
    except Refused as exc:
        _refused(exc)
    else:
        flash(_("Fieldwork settings saved.") if changed else _("Fieldwork settings unchanged."), "info")
    return redirect(url_for("surveys.detail", survey_id=survey.id))


@bp.route("/<int:survey_id>/sample", methods=["POST"])
@roles(Role.SUPERVISOR)
def sample(survey_id: int) -> Response:
    """Store the frame and queue its import (a background job); its page shows how it goes."""
    survey, form = _survey(survey_id, whole=True), SampleForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    data = upload.read()
    if not data.strip():
        flash(_("The file is empty."), "error")
        return redirect(url_for("surveys.detail", survey_id=survey.id))
    options = SampleOptions(skip_invalid=bool(form.skip_invalid.data), replicate_size=form.replicate_size.data,
                            allow_foreign=bool(form.allow_foreign.data), allow_service=bool(form.allow_service.data))
    job = queue_sample_import(db(), survey, upload.filename or "frame.csv", data, ctx().vault, ctx().clock,
                              user().id, options)
    return redirect(url_for("surveys.sample_job", survey_id=survey.id, job_id=job.id))


def _sample_job(survey_id: int, job_id: int) -> tuple[Survey, Job]:
    """The survey and one of its sample uploads (404 for another survey's job), for a whole-county supervisor."""
    survey = _survey(survey_id, whole=True)
    job = db().get(Job, job_id)
    if job is None or job.survey_id != survey.id or job.kind != SAMPLE_IMPORT:
        abort(404)
    return survey, job


def _status(status: str) -> str:
    """A job's state, in words."""
    return str({JobStatus.QUEUED: _("Waiting"), JobStatus.RUNNING: _("Running"), JobStatus.DONE: _("Done"),
                JobStatus.FAILED: _("Failed")}.get(JobStatus(status), status))


def _stage(job: Job) -> str:
    """What a running job is doing, in words."""
    if job.status == JobStatus.QUEUED:
        return str(_("Waiting for a job worker to start it."))
    return str({"reading": _("Reading the file"), "checking": _("Checking the rows"),
                "storing": _("Storing the numbers")}.get(job.stage, _("Starting")))


@bp.route("/<int:survey_id>/sample/jobs/<int:job_id>")
@roles(Role.SUPERVISOR)
def sample_job(survey_id: int, job_id: int) -> str:
    """A sample upload's progress while it runs (the page polls :func:`sample_job_state`), its result after."""
    survey, job = _sample_job(survey_id, job_id)
    uploader = db().get(User, job.user_id) if job.user_id else None
    error = job.error or {}
    options = [(flag, text) for flag, text in (
        ("skip_invalid", _("Import the good rows even if some rows are bad")),
        ("allow_foreign", _("Admit numbers of other countries")),
        ("allow_service", _("Admit special-service numbers (400/800, 95xxx, 96xxx)"))) if job.params.get(flag)]
    if job.params.get("replicate_size"):
        options.append(("replicate_size", _("Replicate size %(n)d", n=job.params["replicate_size"])))
    return render_template(
        "surveys/sample_job.html", survey=survey, job=job, percent=percent(job), options=options, stage=_stage(job),
        job_status=_status,
        finished=job.status in (JobStatus.DONE, JobStatus.FAILED),
        uploader=(uploader.display_name or uploader.username) if uploader else "—",
        error=refusal(Refused(error["message"], **error.get("values", {}))) if error.get("message") else "")


@bp.route("/<int:survey_id>/sample/jobs/<int:job_id>.json")
@roles(Role.SUPERVISOR)
def sample_job_state(survey_id: int, job_id: int) -> Response:
    job = _sample_job(survey_id, job_id)[1]
    return jsonify({**state(job), "stage_text": _stage(job), "status_text": _status(job.status)})


@bp.route("/<int:survey_id>/sample/jobs/<int:job_id>/rejected.csv")
@roles(Role.SUPERVISOR)
def sample_rejects(survey_id: int, job_id: int) -> Response:
    """The rejected rows with a reason column, to fix and upload again (audited as a download)."""
    _survey_row, job = _sample_job(survey_id, job_id)
    found = rejected_csv(db(), job.id, ctx().vault)
    if found is None:
        abort(404)
    name, data = found
    auditing.download("sample_rejects", job.id, file=name, survey=survey_id)
    return send_file(io.BytesIO(data), mimetype="text/csv", as_attachment=True, download_name=file_part(name),
                     max_age=0)
