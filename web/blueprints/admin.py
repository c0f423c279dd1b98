"""Administrators: staff accounts (roles, township scope, unit, password), responsible units, and
the audit log (read-only: the app never changes or deletes an audit row)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from calls import staff_lines
from office.users import UserError, create_user, set_password, update_user
from survey import audit
from survey.models import AuditLog, Unit, User
from survey.vocabulary import ROLES, Role
from web.access import roles, user
from web.context import ctx, db
from web.forms import Form
from web.i18n import refusal
from web.labels import terms
from web.listing import Filters, paginate
from web.request_values import record_id

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100


def _units() -> list[Unit]:
    return list(db().scalars(select(Unit).order_by(Unit.code)))


class UserForm(Form):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    display_name = StringField(validators=[Length(max=120)])
    role = SelectField(choices=list(ROLES))
    township_scope = StringField(validators=[Length(max=400)])
    unit_id = SelectField(coerce=int)
    password = PasswordField(validators=[Optional(), Length(max=200)])
    active = BooleanField(default=True)
    phone = StringField(validators=[Length(max=80)])


class StaffCallsForm(Form):
    provider = SelectField(choices=["", *staff_lines.PROVIDERS])
    record = BooleanField()
    tel_fallback = BooleanField()


class UnitForm(Form):
    code = StringField(validators=[DataRequired(), Length(max=40)])
    name_zh = StringField(validators=[DataRequired(), Length(max=120)])
    name_en = StringField(validators=[Length(max=120)])
    township_code = StringField(validators=[Length(max=40)])


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace("，", ",").split(",") if c.strip()]


@bp.route("/users")
@roles(Role.ADMIN)
def users() -> str:
    """Accounts a page at a time, by role (the list's status filter) and date created."""
    found = Filters.from_request()
    query = select(User).where(found.between(User.created_at)).order_by(User.username)
    if found.status:
        query = query.where(User.role == found.status)
    if request.args.get("active") in ("yes", "no"):
        query = query.where(User.active.is_(request.args["active"] == "yes"))
    return render_template("admin/users.html", page=paginate(db(), query), found=found,
                           units={u.id: u for u in db().scalars(select(Unit))}, roles=list(terms("role").items()))


@bp.route("/users/new", methods=["GET", "POST"])
@roles(Role.ADMIN)
def new_user() -> Response | str:
    form, units = UserForm(), _units()
    form.unit_id.choices = ["0", *(str(u.id) for u in units)]
    if form.validate_on_submit():
        try:
            made = create_user(db(), form.username.data or "", form.password.data or "", form.role.data or "",
                               ctx().clock, township_scope=_codes(form.township_scope.data or ""),
                               unit_id=form.unit_id.data or None, display_name=form.display_name.data or "",
                               actor_id=user().id, phone=form.phone.data or "")
        except UserError as exc:
            db().rollback()
            flash(refusal(exc), "error")
        else:
            flash(_("Account %(name)s created.", name=made.username), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/user.html", form=form, account=None, units=units)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_user(user_id: int) -> Response | str:
    account = db().get(User, user_id)
    if account is None:
        abort(404)
    form = UserForm(obj=account) if request.method == "GET" else UserForm()
    units = _units()
    form.unit_id.choices = ["0", *(str(u.id) for u in units)]
    if request.method == "GET":
        form.township_scope.data = ", ".join(account.township_scope or [])
        form.unit_id.data = account.unit_id or 0
    form.username.data = account.username
    if form.validate_on_submit():
        try:
            update_user(db(), account, ctx().clock, actor_id=user().id, role=form.role.data or "",
                        township_scope=_codes(form.township_scope.data or ""), unit_id=form.unit_id.data or None,
                        active=bool(form.active.data), display_name=form.display_name.data,
                        phone=form.phone.data or "")
            if form.password.data:
                set_password(db(), account, form.password.data, ctx().clock, actor_id=user().id)
        except UserError as exc:
            db().rollback()
            flash(refusal(exc), "error")
        else:
            flash(_("Account %(name)s saved.", name=account.username), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/user.html", form=form, account=account, units=units)


@bp.route("/staff-calls", methods=["GET", "POST"])
@roles(Role.ADMIN)
def staff_calls() -> Response | str:
    """The centre's staff-call settings: which provider places the interviewers' calls, whether
    they are recorded (after the consent notice), whether the console still shows the number."""
    current = staff_lines.policy(db())
    form = StaffCallsForm(obj=current) if request.method == "GET" else StaffCallsForm()
    if form.validate_on_submit():
        staff_lines.set_policy(db(), ctx().clock, user_id=user().id, provider=form.provider.data or "",
                               record=bool(form.record.data), tel_fallback=bool(form.tel_fallback.data))
        flash(_("Staff-call settings saved."), "info")
        return redirect(url_for("admin.staff_calls"))
    phones = db().scalars(select(User).where(User.active.is_(True), User.role.in_((Role.INTERVIEWER, Role.SUPERVISOR)))
                          .order_by(User.username)).all()
    return render_template("admin/staff_calls.html", form=form, providers=terms("staff_call_provider"),
                           accounts=phones)


@bp.route("/units", methods=["GET", "POST"])
@roles(Role.ADMIN)
def units() -> Response | str:
    form = UnitForm()
    if form.validate_on_submit():
        code = (form.code.data or "").strip()
        if db().scalars(select(Unit).where(Unit.code == code)).first() is not None:
            flash(_("A unit with this code already exists."), "error")
        else:
            unit = Unit(code=code, name_zh=(form.name_zh.data or "").strip(), name_en=(form.name_en.data or "").strip(),
                        township_code=(form.township_code.data or "").strip() or None)
            db().add(unit)
            db().flush()
            audit.record(db(), ctx().clock, user_id=user().id, action="unit_created", entity="unit",
                         entity_id=unit.id, after={"code": unit.code, "name_zh": unit.name_zh})
            return redirect(url_for("admin.units"))
    return render_template("admin/units.html", form=form, page=paginate(db(), select(Unit).order_by(Unit.code)))


@bp.route("/audit", endpoint="audit")
@roles(Role.ADMIN)
def audit_log() -> str:
    """The audit log a page at a time, newest first, by what, action, account and day."""
    args, found = request.args, Filters.from_request()
    query = audit.matching(entity=args.get("entity") or None, entity_id=args.get("entity_id") or None,
                           action=args.get("action") or None, user_id=args.get("user", type=record_id))
    page = paginate(db(), query.where(found.between(AuditLog.at)), size=AUDIT_PAGE)
    names = {u.id: u.username for u in db().scalars(select(User).order_by(User.username))}
    return render_template("admin/audit.html", page=page, names=names, args=args, found=found,
                           actions=list(terms("action").items()), entities=list(terms("entity").items()))
