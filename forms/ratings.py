"""Ratings: revocation, reward disbursement, and the public's certificate check."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from forms.fields import DateBetween, LocalDateField, plain_text
from rating.models import Disbursement
from rating.services.reference import all_levels
from rating.services.reporting.totals import FIRST_DAY, LAST_DAY


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("撤销原因"), validators=[DataRequired(_l("请填写撤销原因。")), plain_text,
                                                    Length(max=4000, message=_l("不超过 4000 字。"))])
    blacklist_enterprise = BooleanField(_l("同时将该企业列入黑名单"))
    blacklist_provider = BooleanField(_l("同时将其云服务商列入黑名单"))


class DisbursementForm(FlaskForm):
    state = SelectField(_l("奖励拨付状态"), choices=[(d.value, _l(d.msgid)) for d in Disbursement])
    disbursed_on = LocalDateField(_l("拨付日期"), validators=[Optional()])
    note = StringField(_l("备注"), validators=[Optional(), plain_text, Length(max=2000)])

    def validate(self, extra_validators=None) -> bool:
        # Optional() ends the date's own validators when it is empty, so the rule that a
        # paid reward has a date is checked here.
        valid = super().validate(extra_validators)
        if self.state.data == Disbursement.paid and self.disbursed_on.data is None and not self.disbursed_on.errors:
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


def level_choices() -> list[tuple[str, str]]:
    """Every level, then each star level of the guide editions loaded (a list spans editions)."""
    return [("", _("全部星级"))] + [(str(n), _("%(n)s星级", n=n)) for n in all_levels()]


class DashboardFilterForm(FlaskForm):
    """The dashboard's filters (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    level = SelectField(_l("星级"), default="")
    on = LocalDateField(_l("统计日期"), validators=[Optional(), DateBetween(FIRST_DAY, LAST_DAY)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.level.choices = level_choices()


class ExportForm(FlaskForm):
    """Download the ratings list of the caller's scope (the filters of /api/v1/ratings)."""

    format = SelectField(_l("格式"), choices=[("xlsx", _l("Excel 工作簿（.xlsx）")), ("csv", _l("CSV（UTF-8）")),
                                            ("pdf", _l("打印版 PDF"))], default="xlsx")
    level = SelectField(_l("星级"), default="")
    status = SelectField(_l("状态"), choices=[("valid", _l("有效")), ("", _l("全部状态")), ("revoked", _l("已撤销")),
                                            ("superseded", _l("已被更高星级取代")), ("expired", _l("已过期"))],
                         default="valid")
    year = IntegerField(_l("年度"), validators=[Optional(), NumberRange(1990, 2100, _l("请输入 1990 到 2100 之间的年份。"))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.level.choices = level_choices()

    def filters(self) -> dict:
        return {"city": None, "district": None, "level": int(self.level.data) if self.level.data else None,
                "year": self.year.data, "status": self.status.data or None, "q": None}
