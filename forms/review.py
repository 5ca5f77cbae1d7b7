"""Reviewers' decisions."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from forms.fields import FiniteDecimalField, plain_text
from rating.models import Decision


class AdjustmentForm(Form):
    code = StringField(_l("指标"), validators=[DataRequired(_l("请指定指标。")), plain_text, Length(max=64)])
    points = FiniteDecimalField(_l("调整后分数"), places=2, validators=[InputRequired(_l("请填写分数。"))])
    reason = TextAreaField(_l("调整理由"), validators=[DataRequired(_l("请说明调整理由。")), plain_text,
                                                   Length(max=2000)])


class DecisionForm(FlaskForm):
    decision = SelectField(_l("决定"), choices=[(d.value, _l(d.msgid)) for d in Decision],
                           validators=[DataRequired(_l("请选择决定。"))])
    comment = TextAreaField(_l("意见"), validators=[Optional(), plain_text, Length(max=4000)])
    version = IntegerField(validators=[InputRequired(_l("缺少版本号。"))])
    adjustments = FieldList(FormField(AdjustmentForm), max_entries=100)


class IndicatorScoreForm(Form):
    code = StringField(_l("指标"), validators=[DataRequired(_l("请指定指标。")), plain_text, Length(max=64)])
    points = FiniteDecimalField(_l("分数"), places=2, validators=[InputRequired(_l("请填写分数。"))])


class ExpertScoresForm(FlaskForm):
    scores = FieldList(FormField(IndicatorScoreForm), min_entries=0, max_entries=200)
    comment = TextAreaField(_l("评审意见"), validators=[Optional(), plain_text, Length(max=4000)])
