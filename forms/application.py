"""The self-assessment form, generated from the batch's guide edition.

One class per edition (cached): an answers sub-form with one field per indicator, the
declared cloud services as repeatable rows with their payments, and the target level.
The same classes validate the HTML form posts and the JSON API (through formdata built
by forms.jsondata).
"""
from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from forms.fields import Between, FiniteDecimalField, LocalDateField, LocalIntegerField, plain_text
from rating.models.enums import Deployment, ServiceCategory
from rating.rules.editions import Edition, Indicator

MAX_SERVICES = 50
MAX_PAYMENTS = 100
TEXT_MAX = 4000


def _english() -> bool:
    return str(get_locale() or "").startswith("en")


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PaymentForm(Form):
    paid_on = LocalDateField(_l("付款日期"), validators=[InputRequired(_l("请填写付款日期。"))])
    amount = FiniteDecimalField(
        _l("金额（元）"), places=2,
        validators=[InputRequired(_l("请填写金额。")), Between(minimum=0.01, maximum=10**12)],
    )


class ServiceForm(Form):
    provider = StringField(_l("云服务商"),
                           validators=[DataRequired(_l("请填写云服务商。")), plain_text, Length(max=200)])
    service_name = StringField(_l("服务名称"),
                               validators=[DataRequired(_l("请填写服务名称。")), plain_text, Length(max=200)])
    category = SelectField(_l("服务类别"), validators=[DataRequired(_l("请选择服务类别。"))])
    deployment = SelectField(_l("部署方式"), validators=[DataRequired(_l("请选择部署方式。"))])
    started_on = LocalDateField(_l("开始使用日期"), validators=[InputRequired(_l("请填写开始使用日期。"))])
    ended_on = LocalDateField(_l("停止使用日期（仍在使用请留空）"), validators=[Optional()])
    payments = FieldList(FormField(PaymentForm), max_entries=MAX_PAYMENTS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Required selects start on an empty "请选择": no real value is chosen for the firm.
        self.category.choices = [("", _l("请选择"))] + [(c.value, c.label) for c in ServiceCategory]
        self.deployment.choices = [("", _l("请选择"))] + [(d.value, d.label) for d in Deployment]

    def validate_ended_on(self, field):
        if field.data and self.started_on.data and field.data < self.started_on.data:
            raise ValidationError(_l("停止使用日期不能早于开始使用日期。"))


def indicator_field(indicator: Indicator, english: bool):
    """The WTForms field for one indicator type. Required-ness is checked at submission."""
    label = indicator.title_en if english else indicator.title
    description = (indicator.help_en if english else indicator.help) or ""
    options = [(o.value, o.label_en if english else o.label) for o in indicator.options]
    unit = indicator.unit or ""
    kind = indicator.type
    if kind == "boolean":
        choices = [("true", _l("是")), ("false", _l("否"))]
        return RadioField(label, choices=choices, validators=[Optional()], description=description)
    if kind == "integer":
        return LocalIntegerField(label, validators=[Optional(), Between(indicator.min, indicator.max, unit)],
                                 description=description)
    if kind == "decimal":
        return FiniteDecimalField(label, places=2, validators=[Optional(), Between(indicator.min, indicator.max, unit)],
                                  description=description)
    if kind == "choice":
        return RadioField(label, choices=options, validators=[Optional()], description=description)
    if kind == "multi_choice":
        return MultiCheckboxField(label, choices=options, validators=[Optional()], description=description)
    if kind == "date":
        return LocalDateField(label, validators=[Optional()], description=description)
    return TextAreaField(label, validators=[Optional(), plain_text, Length(max=TEXT_MAX)], description=description)


_ANSWER_FORMS: dict[tuple[str, str, bool], type[Form]] = {}


def answers_form_class(edition: Edition) -> type[Form]:
    """One sub-form class per edition content and language, built once."""
    key = (edition.code, edition.sha256, _english())
    cls = _ANSWER_FORMS.get(key)
    if cls is None:
        attrs = {i.code: indicator_field(i, key[2]) for i in edition.indicators}
        cls = _ANSWER_FORMS[key] = type(f"Answers_{edition.code.replace('-', '_')}", (Form,), attrs)
    return cls


def application_form_class(edition: Edition, base: type = FlaskForm) -> type:
    """The whole application form for an edition: target level, answers and services."""
    levels = sorted(edition.levels)

    class ApplicationForm(base):
        target_level = SelectField(
            _l("申报星级"), coerce=int,
            choices=[(lvl, f"{lvl}★") for lvl in levels],
            validators=[Optional()],
        )
        answers = FormField(answers_form_class(edition))
        cloud_services = FieldList(FormField(ServiceForm), max_entries=MAX_SERVICES)
        version = IntegerField(validators=[Optional()], widget=widgets.HiddenInput())
        save = SubmitField(_l("保存草稿"))
        add_service = SubmitField(_l("增加一项云服务"))

    return ApplicationForm


class NewApplicationForm(FlaskForm):
    batch_id = SelectField(_l("申报批次"), coerce=int, validators=[InputRequired(_l("请选择申报批次。"))],
                           validate_choice=False)
    target_level = SelectField(_l("申报星级"), coerce=int, validators=[InputRequired(_l("请选择申报星级。"))],
                               validate_choice=False)
    submit = SubmitField(_l("创建申报"))


class EvidenceForm(FlaskForm):
    file = FileField(_l("证明材料"), validators=[DataRequired(_l("请选择要上传的文件。"))])
    indicator_code = HiddenField(validators=[plain_text])
    upload = SubmitField(_l("上传"))


class SubmitForm(FlaskForm):
    pledge = BooleanField(
        _l("本企业承诺：所填报信息及上传材料真实、准确、完整，如有弄虚作假，愿承担相应责任并接受列入黑名单等处理。")
    )
    submit = SubmitField(_l("确认提交"))


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected button (withdraw, delete evidence)."""

    submit = SubmitField(_l("确认"))
