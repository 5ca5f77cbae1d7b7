"""Log in, log out, firm registration (HTML)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from forms.accounts import ForgotPasswordForm, HtmlRegistrationForm, LoginForm, LogoutForm, ResetPasswordForm
from rating.errors import ServiceError
from rating.extensions import db, limiter
from rating.permissions import claim_pending
from rating.services import reference
from rating.services.accounts import password_reset, registration, sessions, signin

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = signin.authenticate(form.email.data, form.password.data,
                                       request.cookies.get(signin.DEVICE_COOKIE))
        except ServiceError as exc:
            db.session.commit()     # a refused login still counts against the account
            form.password.errors.append(exc.message)
            return render_template("auth/login.html", form=form), exc.status
        db.session.commit()
        login_user(user)
        response = redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
        _remember_device(response, user)
        return response
    return render_template("auth/login.html", form=form)


def _remember_device(response, user) -> None:
    """Mark this browser as one the account logged in from: a correct password from it
    passes the failed-login pauses (signin.authenticate). Signed, HttpOnly, SameSite=Lax,
    Secure where the session cookie is."""
    config = current_app.config
    response.set_cookie(signin.DEVICE_COOKIE, signin.device_cookie(user),
                        max_age=config["KNOWN_DEVICE_DAYS"] * 86400, httponly=True, samesite="Lax",
                        secure=config["SESSION_COOKIE_SECURE"])


@bp.post("/logout")
@login_required
def logout():
    """Ends every browser session of the account (a copied cookie's too), and the account's
    API tokens when the box is ticked."""
    form = LogoutForm()
    sessions.log_out(current_user, revoke_tokens=bool(form.revoke_tokens.data))
    db.session.commit()
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def register():
    form = HtmlRegistrationForm(district_choices=district_choices())
    if form.validate_on_submit():
        try:
            _enterprise, user = registration.register_enterprise(form.data)
        except ServiceError as exc:
            db.session.rollback()   # the form is shown again, reading reference data
            for name, messages in exc.fields.items():
                if name in form:
                    form[name].errors = list(form[name].errors) + messages
            flash(exc.message, "error")
            return render_template("auth/register.html", form=form), exc.status
        db.session.commit()
        login_user(user)
        if claim_pending(user):
            flash(_("账户已创建。该统一社会信用代码的企业已在认定名单中，您的认领须经企业所在县（市、区）"
                    "主管部门确认后，才能查看该企业的认定和证书、办理申报。"), "warning")
        else:
            flash(_("注册成功，欢迎使用。"), "success")
        return redirect(url_for("applications.dashboard"))
    return render_template("auth/register.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per minute;60 per hour", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        password_reset.request_password_reset(form.email.data)
        db.session.commit()
        # The same answer whether or not the address has an account.
        flash(_("如果该邮箱已注册，我们已发送重置密码的链接，请查收邮件（%(n)s 分钟内有效）。",
                n=current_app.config["PASSWORD_RESET_MINUTES"]), "success")
        return redirect(url_for(".login"))
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        user = password_reset.user_for_reset(token)
    except ServiceError as exc:
        return render_template("auth/reset.html", form=form, problem=exc.message), 410
    if form.validate_on_submit():
        try:
            password_reset.reset_password(token, form.password.data)
        except ServiceError as exc:
            return render_template("auth/reset.html", form=form, problem=exc.message), 410
        db.session.commit()
        logout_user()
        flash(_("密码已重置，请用新密码登录。"), "success")
        return redirect(url_for(".login"))
    return render_template("auth/reset.html", form=form, problem=None, email=user.email), 422 if form.errors else 200


def district_choices() -> list[tuple[str, str]]:
    by_code = {j.code: j for j in reference.jurisdictions()}
    choices = [("", _("请选择"))]
    for county in reference.counties():
        city = by_code.get(county.city_code or "")
        choices.append((county.code, f"{city.name if city else ''} · {county.name}（{county.code}）"))
    return choices
