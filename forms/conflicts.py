"""A reviewer's declaration of a conflict of interest: a firm (by its credit code), a group of
firms or a cloud provider, exactly one of them (the use case checks that)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from forms.fields import plain_text


class ConflictForm(FlaskForm):
    uscc = StringField(_l("企业统一社会信用代码"), validators=[Optional(), plain_text, Length(max=18)])
    group_name = StringField(_l("企业集团"), validators=[Optional(), plain_text, Length(max=200)])
    provider_name = StringField(_l("云服务商"), validators=[Optional(), plain_text, Length(max=200)])
    note = TextAreaField(_l("说明"), validators=[Optional(), plain_text, Length(max=4000)])


class WithdrawConflictForm(FlaskForm):
    """Only the CSRF token: withdrawing needs no more."""
