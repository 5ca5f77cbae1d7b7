"""An official's decision on a claim of an imported firm."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from forms.fields import plain_text


class ClaimDecisionForm(FlaskForm):
    comment = TextAreaField(_l("意见（可不填，将随邮件告知申请人）"),
                            validators=[Optional(), plain_text, Length(max=2000, message=_l("不超过 2000 字。"))])
    approve = SubmitField(_l("确认认领"))
    reject = SubmitField(_l("不予确认"))
