"""Accounts that others manage: staff (officials, administrators), a firm's colleagues (its
administrator), and one's own profile. The pages and the API share these forms; a PATCH
validates the keys it was given (`present`)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from forms.accounts import PHONE, strip
from forms.fields import plain_text
from rating.models.enums import Role

STAFF_ROLES = (Role.reviewer, Role.expert, Role.official, Role.admin)
LOCALES = (("zh_Hans_CN", "简体中文"), ("en", "English"))


def chosen(message):
    """A select must have a value; unlike DataRequired it adds no `required` attribute, which a
    select whose first option is a real choice may not carry (HTML)."""
    def check(form, field):
        if not field.data:
            raise ValidationError(message)
    return check


def role_choices():
    return [(role.value, role.label) for role in STAFF_ROLES]


def _email():
    return EmailField(_l("邮箱"), validators=[DataRequired(_l("请输入邮箱。")), plain_text,
                                              Email(_l("邮箱格式不正确。"), check_deliverability=False),
                                              Length(max=254)], filters=[strip])


def _name(required: bool = True):
    first = DataRequired(_l("请输入姓名。")) if required else Optional()
    return StringField(_l("姓名"), validators=[first, plain_text, Length(max=100)], filters=[strip])


class StaffInviteForm(FlaskForm):
    email = _email()
    name = _name()
    role = SelectField(_l("角色"), choices=role_choices, validators=[chosen(_l("请选择角色。"))])
    jurisdiction_code = StringField(_l("所属行政区划代码"), validators=[Optional(), plain_text, Length(max=6)],
                                    filters=[strip])
    submit = SubmitField(_l("发送邀请"))


class StaffEditForm(FlaskForm):
    name = _name()
    role = SelectField(_l("角色"), choices=role_choices, validators=[chosen(_l("请选择角色。"))])
    jurisdiction_code = StringField(_l("所属行政区划代码"), validators=[Optional(), plain_text, Length(max=6)],
                                    filters=[strip])
    active = BooleanField(_l("启用"))
    submit = SubmitField(_l("保存"))


class FirmUserInviteForm(FlaskForm):
    email = _email()
    name = _name()
    submit = SubmitField(_l("发送邀请"))


class ProfileForm(FlaskForm):
    name = _name()
    phone = StringField(_l("联系电话"), validators=[Optional(), plain_text,
                                                 Regexp(PHONE, message=_l("请输入有效的电话号码。"))],
                        filters=[strip])
    locale = SelectField(_l("邮件和界面语言"), choices=LOCALES, validators=[chosen(_l("请选择语言。"))])
    submit = SubmitField(_l("保存"))


class _JurisdictionChoice:
    """The pages offer the divisions in the official's scope (set `choices` per request)."""
    jurisdiction_code = SelectField(_l("所属地区"), choices=[], validate_choice=False,
                                    description=_l("系统管理员可不选。"))


class HtmlStaffInviteForm(_JurisdictionChoice, StaffInviteForm):
    pass


class HtmlStaffEditForm(_JurisdictionChoice, StaffEditForm):
    pass


class StaffSearchForm(FlaskForm):
    """The staff list's filters (GET, no CSRF)."""
    class Meta:
        csrf = False

    q = StringField(_l("姓名或邮箱"), validators=[Optional(), plain_text, Length(max=100)], filters=[strip])
    role = SelectField(_l("角色"), choices=lambda: [("", _l("全部"))] + role_choices())
    active = SelectField(_l("状态"), choices=[("", _l("全部")), ("true", _l("启用")), ("false", _l("已停用"))])
    submit = SubmitField(_l("查询"))


class FirmUserActionForm(FlaskForm):
    """The firm's administrator acts on a colleague (the buttons name the change)."""
    make_admin = SubmitField(_l("设为管理员"))
    remove_admin = SubmitField(_l("取消管理员"))
    deactivate = SubmitField(_l("停用"))
    reactivate = SubmitField(_l("启用"))
