"""The account's own security (HTML): its password, its browser sessions and API tokens; and,
for administrators, signing another account out everywhere or deactivating it."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from forms.accounts import AccountActionForm, HtmlPasswordChangeForm, LogoutForm
from forms.staff import FirmUserActionForm, FirmUserInviteForm, ProfileForm
from rating.errors import ServiceError
from rating.extensions import db, limiter
from rating.permissions import can_manage_accounts, can_manage_firm_users, is_firm_user
from rating.services.accounts import firm_users, sessions, staff

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(admin_form: AccountActionForm | None = None, status: int = 200):
    manage = can_manage_accounts(current_user)
    return render_template(
        "account/security.html", tokens=sessions.tokens_of(current_user), logout_form=LogoutForm(),
        admin_form=(admin_form or AccountActionForm()) if manage else None,
    ), status


@bp.get("/security")
@login_required
def security():
    return _page()


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@login_required
def password():
    form = HtmlPasswordChangeForm()
    if form.validate_on_submit():
        try:
            sessions.change_password(current_user, form.current_password.data, form.new_password.data)
        except ServiceError as exc:
            for name, messages in exc.fields.items():
                form[name].errors = list(form[name].errors) + messages
            return render_template("account/password.html", form=form), exc.status
        db.session.commit()
        # Every session ended with the old password; this one goes on, under the new version.
        login_user(current_user._get_current_object())
        flash(_("密码已修改。其他设备上的登录和全部 API 令牌均已失效。"), "success")
        return redirect(url_for(".security"))
    return render_template("account/password.html", form=form), 422 if form.errors else 200


@bp.post("/sign-out-elsewhere")
@login_required
def sign_out_elsewhere():
    sessions.sign_out_elsewhere(current_user)
    db.session.commit()
    login_user(current_user._get_current_object())
    flash(_("已在其他所有设备和浏览器上退出登录。"), "success")
    return redirect(url_for(".security"))


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    sessions.revoke_token(current_user, token_id)
    db.session.commit()
    flash(_("该 API 令牌已注销。"), "success")
    return redirect(url_for(".security"))


@bp.post("/tokens/revoke-all")
@login_required
def revoke_tokens():
    count = sessions.revoke_tokens(current_user)
    db.session.commit()
    flash(_("已注销 %(n)s 个 API 令牌。", n=count), "success")
    return redirect(url_for(".security"))


@bp.post("/manage")
@login_required
def manage():
    """An administrator signs an account out everywhere, deactivates or reactivates it."""
    if not can_manage_accounts(current_user):
        abort(403)
    form = AccountActionForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        user = sessions.account_by_email(form.email.data)
        if form.deactivate.data:
            sessions.set_active(current_user, user, False)
            staff.reroute(user)     # its open assignments go to someone else at once
            message = _("账户 %(email)s 已停用，其登录和 API 令牌均已失效。", email=user.email)
        elif form.reactivate.data:
            sessions.set_active(current_user, user, True)
            message = _("账户 %(email)s 已重新启用。", email=user.email)
        else:
            sessions.sign_out_everywhere(current_user, user)
            message = _("账户 %(email)s 已在所有设备上退出登录，其 API 令牌均已注销。", email=user.email)
    except ServiceError as exc:
        form.email.errors = list(form.email.errors) + (exc.fields.get("email") or [exc.message])
        return _page(form, exc.status)
    db.session.commit()
    if user.id == current_user.id:
        login_user(current_user._get_current_object())     # this session goes on
    flash(message, "success")
    return redirect(url_for(".security"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    """My account: name, phone and language (emails are written in it)."""
    form = ProfileForm(obj=current_user, locale=current_user.locale or "zh_Hans_CN")
    if form.validate_on_submit():
        firm_users.update_profile(current_user, {"name": form.name.data, "phone": form.phone.data,
                                                 "locale": form.locale.data})
        db.session.commit()
        session["lang"] = form.locale.data      # the pages follow at once (select_locale)
        flash(_("账户信息已保存。"), "success")
        return redirect(url_for(".profile"))
    return render_template("account/profile.html", form=form), 422 if form.errors else 200


def _firm_page(invite_form: FirmUserInviteForm | None = None, status: int = 200):
    manage = can_manage_firm_users(current_user)
    return render_template("account/firm_users.html", users=firm_users.colleagues(current_user), manage=manage,
                           form=(invite_form or FirmUserInviteForm()) if manage else None,
                           action_form=FirmUserActionForm()), status


@bp.get("/firm-users")
@login_required
def firm_users_page():
    if not is_firm_user(current_user):
        abort(403)
    return _firm_page()


@bp.post("/firm-users/invite")
@login_required
def invite_firm_user():
    if not can_manage_firm_users(current_user):
        abort(403)
    form = FirmUserInviteForm()
    if not form.validate_on_submit():
        return _firm_page(form, 422)
    try:
        user = firm_users.invite(current_user, form.email.data, form.name.data)
    except ServiceError as exc:
        db.session.rollback()
        form.email.errors = list(form.email.errors) + (exc.fields.get("email") or [exc.message])
        return _firm_page(form, exc.status)
    db.session.commit()
    flash(_("已向 %(email)s 发送邀请邮件。", email=user.email), "success")
    return redirect(url_for(".firm_users_page"))


@bp.post("/firm-users/<int:user_id>")
@login_required
def change_firm_user(user_id: int):
    if not can_manage_firm_users(current_user):
        abort(403)
    form = FirmUserActionForm()
    if not form.validate_on_submit():
        abort(400)
    is_admin = True if form.make_admin.data else False if form.remove_admin.data else None
    active = True if form.reactivate.data else False if form.deactivate.data else None
    try:
        firm_users.update(current_user, user_id, is_admin, active)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".firm_users_page"))
    db.session.commit()
    flash(_("已保存。"), "success")
    return redirect(url_for(".firm_users_page"))
