"""Publicity notices, the public's objections, and how officials resolve them."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from forms.fields import LocalDateField, LocalIntegerField, plain_text
from rating.models.types import MAX_ID
from rating.models.publicity import OBJECTION_CONTACT_MAX, OBJECTION_NAME_MAX, OBJECTION_REASON_MAX

MAX_ENTRIES = 2000
REASON_MIN = 10   # characters of an objection's reason: enough to say what is wrong
# A mainland mobile (+86 allowed), a landline with its area code, or an email address;
# spaces and hyphens between digits are ignored.
MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")


def is_contact(value: str) -> bool:
    value = value.strip()
    if "@" in value:
        return bool(EMAIL.match(value))
    digits = re.sub(r"[\s-]", "", value)
    return bool(MOBILE.match(digits) or LANDLINE.match(digits))


class IdListField(Field):
    """Several record ids: repeated form values (checkboxes) or a JSON array, flattened."""

    def _value(self):
        return ""

    def process_formdata(self, valuelist):
        self.data = []
        for raw in valuelist:
            try:
                value = int(str(raw).strip())
            except ValueError:
                raise ValueError(_l("编号必须是整数。"))
            if not 0 < value <= MAX_ID:
                raise ValueError(_l("编号不正确。"))
            if value not in self.data:
                self.data.append(value)
        if len(self.data) > MAX_ENTRIES:
            raise ValueError(_l("一次最多公示 %(n)s 家。", n=MAX_ENTRIES))


class NoticeForm(FlaskForm):
    title = StringField(_l("公示标题"), validators=[DataRequired(_l("请填写公示标题。")), plain_text, Length(max=200)])
    application_ids = IdListField(_l("公示的申报"))
    starts_on = LocalDateField(_l("公示开始日期"), validators=[InputRequired(_l("请填写公示开始日期。"))])
    ends_on = LocalDateField(_l("公示结束日期"), validators=[InputRequired(_l("请填写公示结束日期。"))])

    def validate_application_ids(self, field):
        if not field.data:
            raise ValidationError(_l("请至少选择一个审核通过的申报。"))

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))


class ObjectionForm(FlaskForm):
    application_id = LocalIntegerField(_l("异议对象"), validators=[InputRequired(_l("请选择对哪家企业提出异议。"))])
    name = StringField(_l("姓名或单位"), validators=[DataRequired(_l("请填写姓名或单位名称。")), plain_text,
                                                    Length(max=OBJECTION_NAME_MAX)])
    contact = StringField(_l("联系方式"), description=_l("手机号码、带区号的固定电话或电子邮箱，用于核实。"),
                          validators=[DataRequired(_l("请填写联系电话或邮箱，以便核实。")),
                                      plain_text, Length(max=OBJECTION_CONTACT_MAX)])
    reason = TextAreaField(_l("异议理由"), description=_l("至少 %(n)s 个字，写明事实依据。", n=REASON_MIN),
                           validators=[DataRequired(_l("请写明异议理由和事实依据。")), plain_text,
                                       Length(max=OBJECTION_REASON_MAX)])

    def validate_contact(self, field):
        if field.data and not is_contact(field.data):
            raise ValidationError(_l("联系方式应为手机号码（如 13912345678）、带区号的固定电话"
                                     "（如 025-86661234）或电子邮箱。"))

    def validate_reason(self, field):
        if field.data and len(field.data.strip()) < REASON_MIN:
            raise ValidationError(_l("异议理由至少 %(n)s 个字，请写明事实依据。", n=REASON_MIN))


class ResolveForm(FlaskForm):
    outcome = SelectField(_l("处理结果"), choices=[("", _l("请选择")), ("dismiss", _l("异议不成立")),
                                                   ("uphold", _l("异议成立"))],
                          validators=[DataRequired(_l("请选择处理结果。"))])
    action = SelectField(_l("异议成立时"), choices=[("", "—"), ("return", _l("退回企业修改")),
                                                   ("reject", _l("不予认定"))], validate_choice=False)
    comment = TextAreaField(_l("处理意见"), validators=[DataRequired(_l("请填写处理意见。")), plain_text,
                                                       Length(max=4000)])

    def validate_action(self, field):
        if field.data not in (None, "", "return", "reject"):
            raise ValidationError(_l("请选择退回修改或不予认定。"))
        if self.outcome.data == "uphold" and field.data not in ("return", "reject"):
            raise ValidationError(_l("异议成立时请选择退回修改或不予认定。"))
