"""Staff accounts (HTML), for officials (their jurisdiction) and administrators: the list with
its search, inviting by email, and editing one account."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.staff import HtmlStaffEditForm, HtmlStaffInviteForm, StaffSearchForm
from rating.errors import ServiceError
from rating.extensions import db
from rating.permissions import acts_everywhere, can_manage_staff, staff_scope
from rating.services import reference
from rating.services.accounts import staff

bp = Blueprint("staff", __name__, url_prefix="/staff")


def _allowed() -> None:
    if not can_manage_staff(current_user):
        abort(403)


def _divisions() -> list[tuple[str, str]]:
    scope = staff_scope(current_user)
    choices = [("", _("不限（系统管理员）"))] if acts_everywhere(current_user) else []
    return choices + [(j.code, f"{j.name}（{j.code}）") for j in reference.jurisdictions() if scope.contains(j)]


def _add_errors(form, exc: ServiceError) -> None:
    placed = False
    for name, messages in exc.fields.items():
        if name in form:
            form[name].errors = list(form[name].errors) + messages
            placed = True
    if not placed:
        flash(exc.message, "error")


def _list_page(invite_form, status: int = 200):
    search = StaffSearchForm(request.args)
    if not search.validate():       # filters that cannot be searched for are not applied
        search = StaffSearchForm(formdata=None)
    try:
        page = max(1, min(int(request.args.get("page") or 1), 100000))
    except ValueError:
        page = 1
    active = {"true": True, "false": False}.get(search.active.data or "")
    items, total = staff.listing(current_user, search.q.data or None, search.role.data or None, active, page)
    pages = max(1, (total + staff.PER_PAGE - 1) // staff.PER_PAGE)
    return render_template("staff/index.html", items=items, total=total, page=page, pages=pages,
                           search=search, form=invite_form), status


@bp.get("")
@login_required
def index():
    _allowed()
    form = HtmlStaffInviteForm()
    form.jurisdiction_code.choices = _divisions()
    return _list_page(form)


@bp.post("/invite")
@login_required
def invite():
    _allowed()
    form = HtmlStaffInviteForm()
    form.jurisdiction_code.choices = _divisions()
    if not form.validate_on_submit():
        return _list_page(form, 422)
    try:
        user = staff.invite(current_user, form.email.data, form.name.data, form.role.data,
                            form.jurisdiction_code.data or None)
    except ServiceError as exc:
        db.session.rollback()
        _add_errors(form, exc)
        return _list_page(form, exc.status)
    db.session.commit()
    flash(_("已向 %(email)s 发送邀请邮件，对方可通过邮件中的链接设置密码。", email=user.email), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit(user_id: int):
    _allowed()
    try:
        user = staff.member(current_user, user_id)
    except ServiceError:
        abort(404)
    form = HtmlStaffEditForm(obj=user)
    form.jurisdiction_code.choices = _divisions()
    if form.validate_on_submit():
        changes = {"name": form.name.data, "role": form.role.data,
                   "jurisdiction_code": form.jurisdiction_code.data or None, "active": form.active.data}
        try:
            staff.update(current_user, user, changes)
        except ServiceError as exc:
            db.session.rollback()
            _add_errors(form, exc)
            return render_template("staff/edit.html", form=form, user=user), exc.status
        db.session.commit()
        flash(_("账户 %(email)s 已保存。", email=user.email), "success")
        return redirect(url_for(".index"))
    return render_template("staff/edit.html", form=form, user=user), 422 if form.errors else 200
