"""Officials' forms: the blacklist and approval quotas."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from forms.fields import Between, FiniteDecimalField, LocalIntegerField, plain_text
from rating.models.types import MAX_ID


class BlacklistForm(FlaskForm):
    enterprise_id = LocalIntegerField(_l("企业编号"), validators=[Optional(), Between(1, MAX_ID)])
    provider_name = StringField(_l("云服务商名称"), validators=[Optional(), plain_text, Length(max=200)])
    reason = TextAreaField(_l("原因"), validators=[DataRequired(_l("请填写原因。")), plain_text, Length(max=4000)])


class LiftForm(FlaskForm):
    reason = TextAreaField(_l("原因"), validators=[DataRequired(_l("请填写原因。")), plain_text, Length(max=4000)])


class BatchChoiceForm(FlaskForm):
    """The batch a list is about (`?batch_id=`)."""
    batch_id = LocalIntegerField(_l("申报批次"), validators=[InputRequired(_l("请选择申报批次。")),
                                                           Between(1, MAX_ID)])


class QuotaForm(FlaskForm):
    batch_id = LocalIntegerField(_l("申报批次"), validators=[InputRequired(_l("请选择申报批次。")),
                                                           Between(1, MAX_ID)])
    district_code = StringField(_l("县（市、区）代码"), validators=[DataRequired(_l("请填写县级行政区划代码。")),
                                                                 plain_text, Length(min=6, max=6)])
    # Whether the batch's guide edition has this level is the use case's check (quotas.set_quota).
    level = LocalIntegerField(_l("星级"), validators=[InputRequired(_l("请填写星级。")), Between(1)])
    max_count = LocalIntegerField(_l("名额数"), validators=[Optional(), Between(0, 1_000_000)])
    percent = FiniteDecimalField(_l("比例（%）"), places=2, validators=[Optional(), Between(0, 100)])
    base_count = LocalIntegerField(_l("基数（累计上云企业数）"), validators=[Optional(), Between(0, 10_000_000)])
    # typed: base_count as given; firms: the county's registered cloud-adopting firms.
    base_source = SelectField(_l("基数来源"), choices=[("typed", _l("填写的基数")), ("firms", _l("本县已注册上云企业数"))],
                              default="typed", validators=[Optional()])
