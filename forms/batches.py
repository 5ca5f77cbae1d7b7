"""A batch's terms (the province's page and `POST/PATCH /batches`) and a city's own deadline.

Times are entered as local wall-clock time (`2026-03-01T09:00`, the page's datetime-local
input) or with an offset (`2026-03-01T09:00:00+08:00`, the API); dates as YYYY-MM-DD. The
cross-field rules (closing after opening, the investment window inside the cut-off, the
edition's levels) are rating.rules.batches', checked by the service on the merged terms."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import DateTimeLocalInput

from forms.application import MultiCheckboxField
from forms.fields import Between, LocalDateField, LocalIntegerField, plain_text
from rating import clock
from rating.rules.batches import REVIEW_DAYS_MAX, REVIEW_DAYS_MIN


def strip(value):
    return value.strip() if isinstance(value, str) else value


class LocalDateTimeField(Field):
    """A moment: local wall-clock time, or ISO 8601 with an offset; shown as datetime-local."""
    widget = DateTimeLocalInput()

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not valuelist[0]:
            return
        try:
            moment = datetime.fromisoformat(valuelist[0].strip())
        except ValueError:
            raise ValueError(_l("请输入正确的时间，格式为 YYYY-MM-DDTHH:MM。"))
        if not 2000 <= moment.year <= 2100:
            raise ValueError(_l("请输入 2000 年至 2100 年之间的时间。"))
        self.data = moment if moment.tzinfo else moment.replace(tzinfo=clock.zone())

    def _value(self):
        if self.raw_data:
            return self.raw_data[0] if self.data is not None else ""
        return clock.local(self.data).strftime("%Y-%m-%dT%H:%M") if self.data else ""


class LevelsField(MultiCheckboxField):
    """The levels offered, as checkboxes in a fieldset (macros/forms.html `row` knows them by type)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "MultiCheckboxField"

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("星级必须是整数。"))


def _moment(label):
    return LocalDateTimeField(label, validators=[InputRequired(_l("请填写时间。"))])


def _date(label):
    return LocalDateField(label, validators=[InputRequired(_l("请填写日期。"))])


def _days(label):
    return LocalIntegerField(label, validators=[InputRequired(_l("请填写天数。")),
                                                Between(REVIEW_DAYS_MIN, REVIEW_DAYS_MAX, _l("天"))])


class BatchForm(FlaskForm):
    """Every term of a batch; the view sets `guide_edition.choices` and `levels.choices`."""
    name = StringField(_l("批次名称"), validators=[DataRequired(_l("请填写批次名称。")), plain_text,
                                                   Length(max=100)], filters=[strip])
    guide_edition = SelectField(_l("指南版本"), validate_choice=False,
                                validators=[DataRequired(_l("请选择指南版本。")), plain_text, Length(max=32)])
    opens_at = _moment(_l("开始受理时间"))
    closes_at = _moment(_l("截止受理时间"))
    usage_cutoff = _date(_l("使用情况截止日期"))
    investment_from = _date(_l("投入期间开始"))
    investment_to = _date(_l("投入期间结束"))
    review_days_county = _days(_l("县级审核天数"))
    review_days_city = _days(_l("市级审核天数"))
    review_days_province = _days(_l("省级审核天数"))
    levels = LevelsField(_l("可申报星级"), coerce=int, validate_choice=False,
                         description=_l("不选则受理指南版本的全部星级。"))
    submit = SubmitField(_l("保存"))


# The form's field of each API key (review_days is an object in the API, three fields here).
API_FIELDS = {"name": "name", "guide_edition": "guide_edition", "opens_at": "opens_at",
              "closes_at": "closes_at", "usage_cutoff": "usage_cutoff", "investment_from": "investment_from",
              "investment_to": "investment_to", "review_days.county": "review_days_county",
              "review_days.city": "review_days_city", "review_days.province": "review_days_province",
              "levels": "levels"}


class CityDeadlineForm(FlaskForm):
    closes_at = _moment(_l("本市截止受理时间"))
    submit = SubmitField(_l("保存"))


class CloseBatchForm(FlaskForm):
    submit = SubmitField(_l("立即截止"))
