"""Guide editions and quotas as pages: uploading an edition's source, choosing two to compare,
choosing a batch's quotas."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from forms.officials import QuotaForm

MEDIA_CHOICES = [("text/yaml", "YAML"), ("application/json", "JSON")]


class EditionUploadForm(FlaskForm):
    # The document itself is checked by the use case (guide_editions.check), path by path.
    source = TextAreaField(_l("指南源文件"), validators=[DataRequired(_l("请粘贴指南源文件。")), Length(max=1_000_000)],
                           description=_l("与随系统提供的指南文件格式相同；版本代码不能与已有版本重复。"))
    media_type = SelectField(_l("格式"), choices=MEDIA_CHOICES, default="text/yaml")
    submit = SubmitField(_l("检查并上传"))


class EditionDiffForm(FlaskForm):
    class Meta:
        csrf = False        # a GET form: it changes nothing

    # Not `required` (a select's first option is a real choice); the choices themselves are the check.
    a = SelectField(_l("左侧版本"))
    b = SelectField(_l("右侧版本"))


class QuotaPageForm(QuotaForm):
    """QuotaForm as the quotas page shows it: the county and level chosen from lists, and
    whether the cap is a count or a percentage."""
    # Choices only (set by the page: the counties in scope, the edition's levels): anything else is refused.
    district_code = SelectField(_l("县（市、区）"))
    level = SelectField(_l("星级"), coerce=int)
    kind = RadioField(_l("名额设置方式"), choices=[("count", _l("名额数")), ("percent", _l("基数的百分比"))],
                      default="count")
    submit = SubmitField(_l("保存名额"))
