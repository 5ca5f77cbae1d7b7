"""Ratings: revocation, reward disbursement, and the public's certificate check."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms.fields import LocalDateField, plain_text


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("撤销原因"), validators=[DataRequired(_l("请填写撤销原因。")), plain_text,
                                                    Length(max=4000, message=_l("不超过 4000 字。"))])
    blacklist_enterprise = BooleanField(_l("同时将该企业列入黑名单"))
    blacklist_provider = BooleanField(_l("同时将其云服务商列入黑名单"))


class DisbursementForm(FlaskForm):
    state = SelectField(_l("奖励拨付状态"), choices=[("due", _l("待拨付")), ("paid", _l("已拨付")),
                                                 ("withheld", _l("不予拨付"))])
    disbursed_on = LocalDateField(_l("拨付日期"), validators=[Optional()])
    note = StringField(_l("备注"), validators=[Optional(), plain_text, Length(max=2000)])

    def validate(self, extra_validators=None) -> bool:
        # Optional() ends the date's own validators when it is empty, so the rule that a
        # paid reward has a date is checked here.
        valid = super().validate(extra_validators)
        if self.state.data == "paid" and self.disbursed_on.data is None and not self.disbursed_on.errors:
            self.disbursed_on.errors = [*self.disbursed_on.errors, _l("请填写拨付日期。")]
            valid = False
        return valid


class VerifyUploadForm(FlaskForm):
    file = FileField(_l("证书 PDF 文件"), validators=[FileRequired(_l("请选择证书 PDF 文件。"))])


class ImportForm(FlaskForm):
    file = FileField(_l("认定名单文件（.xlsx 或 UTF-8 编码的 .csv）"),
                     validators=[FileRequired(_l("请选择要导入的名单文件。"))])


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token."""
