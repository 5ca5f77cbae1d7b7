"""Registration and login."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError

from forms.fields import plain_text
from rating.models.enums import INDUSTRY_SECTIONS, Scale
from rating.rules.uscc import UsccError, validate_uscc

PHONE = re.compile(r"^[0-9+\-() ]{7,20}$")


def strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(_l("请输入邮箱。")), Length(max=254)],
                       filters=[strip])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。")), Length(max=200)])
    submit = SubmitField(_l("登录"))


def password_policy(form, field):
    value = field.data or ""
    if len(value) < 8 or not re.search(r"[A-Za-z]", value) or not re.search(r"[0-9]", value):
        raise ValidationError(_l("密码至少 8 位，并同时包含字母和数字。"))


class EnterpriseRegistrationForm(FlaskForm):
    name = StringField(_l("企业名称"), validators=[DataRequired(_l("请输入企业名称。")), plain_text, Length(max=200)],
                       filters=[strip])
    uscc = StringField(_l("统一社会信用代码"), validators=[DataRequired(_l("请输入统一社会信用代码。")), plain_text],
                       filters=[strip])
    district_code = SelectField(_l("所在县（市、区）"), validators=[DataRequired(_l("请选择所在县（市、区）。"))],
                                validate_choice=False)
    industry = SelectField(_l("所属行业门类（GB/T 4754）"), choices=list(INDUSTRY_SECTIONS.items()),
                           validators=[DataRequired(_l("请选择行业门类。"))])
    scale = SelectField(_l("企业规模"), choices=[(s.value, s.label) for s in Scale],
                        validators=[DataRequired(_l("请选择企业规模。"))])
    contact_name = StringField(_l("联系人"), validators=[DataRequired(_l("请输入联系人姓名。")), plain_text, Length(max=50)],
                               filters=[strip])
    contact_phone = StringField(
        _l("联系电话"),
        validators=[DataRequired(_l("请输入联系电话。")), plain_text,
                    Regexp(PHONE, message=_l("请输入有效的电话号码。"))],
        filters=[strip],
    )
    email = EmailField(
        _l("登录邮箱"),
        validators=[DataRequired(_l("请输入邮箱。")), plain_text,
                    Email(_l("邮箱格式不正确。"), check_deliverability=False), Length(max=254)],
        filters=[strip],
    )
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。")), password_policy,
                                                      Length(max=200)])
    submit = SubmitField(_l("注册"))

    def validate_uscc(self, field):
        try:
            field.data = validate_uscc(field.data or "")
        except UsccError as exc:
            raise ValidationError(_l(exc.template, **exc.params) if exc.params else _l(exc.template))

    def __init__(self, *args, district_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Labels in the request's language (an f-string at class level would have fixed the
        # sections' names in Chinese when the module was imported).
        self.industry.choices = [(k, f"{k} {v}") for k, v in INDUSTRY_SECTIONS.items()]
        self.scale.choices = [(s.value, s.label) for s in Scale]
        if district_choices is not None:
            self.district_code.choices = district_choices

    def validate_district_code(self, field):
        codes = {c for c, _label in (self.district_code.choices or [])}
        if codes and field.data not in codes:
            raise ValidationError(_l("请选择本省的县（市、区）。"))


class HtmlRegistrationForm(EnterpriseRegistrationForm):
    confirm = PasswordField(_l("确认密码"), validators=[EqualTo("password", _l("两次输入的密码不一致。"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Nothing chosen until the firm chooses: a preselected first entry (agriculture, a
        # large firm) would be recorded for every firm that skipped past it.
        self.industry.choices = [("", _l("请选择")), *self.industry.choices]
        self.scale.choices = [("", _l("请选择")), *self.scale.choices]


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("登录邮箱"), validators=[DataRequired(_l("请输入邮箱。")), Length(max=254)], filters=[strip])
    submit = SubmitField(_l("发送重置链接"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入密码。")), password_policy,
                                                    Length(max=200)])
    confirm = PasswordField(_l("确认新密码"), validators=[EqualTo("password", _l("两次输入的密码不一致。"))])
    submit = SubmitField(_l("设置新密码"))


class LogoutForm(FlaskForm):
    revoke_tokens = BooleanField(_l("同时注销我的全部 API 令牌"))
    submit = SubmitField(_l("退出登录"))


class PasswordChangeForm(FlaskForm):
    """POST /me/password takes these names; the page adds a confirmation."""
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码。")),
                                                               Length(max=200)])
    new_password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码。")), password_policy,
                                                        Length(max=200)])


class HtmlPasswordChangeForm(PasswordChangeForm):
    confirm = PasswordField(_l("确认新密码"), validators=[EqualTo("new_password", _l("两次输入的密码不一致。"))])
    submit = SubmitField(_l("修改密码"))


class AccountActionForm(FlaskForm):
    """An administrator acts on another account, named by its login email."""
    email = EmailField(_l("账户邮箱"), validators=[DataRequired(_l("请输入邮箱。")), Length(max=254)],
                       filters=[strip])
    sign_out = SubmitField(_l("强制退出登录"))
    deactivate = SubmitField(_l("停用账户"))
    reactivate = SubmitField(_l("重新启用账户"))
