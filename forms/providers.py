"""The officials' list of cloud providers, and the blacklist form of the page: a firm by its
credit code or a part of its name, or a provider from the list."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms.fields import plain_text


class ProviderForm(FlaskForm):
    name = StringField(_l("云服务商名称"), validators=[DataRequired(_l("请填写云服务商名称。")), plain_text,
                                                    Length(max=200)])
    aliases = TextAreaField(_l("别名（每行一个，如公司全称）"), validators=[Optional(), Length(max=4000)])

    def alias_list(self) -> list[str]:
        return [line.strip() for line in (self.aliases.data or "").splitlines() if line.strip()]


class BlacklistPageForm(FlaskForm):
    enterprise = StringField(_l("企业（统一社会信用代码或名称）"), validators=[Optional(), plain_text, Length(max=200)])
    provider_id = SelectField(_l("云服务商"), choices=[], validate_choice=True, validators=[Optional()])
    reason = TextAreaField(_l("原因"), validators=[DataRequired(_l("请填写原因。")), plain_text, Length(max=4000)])

    def offer(self, providers: list[dict]) -> None:
        self.provider_id.choices = [("", _l("（不选）"))] + [(str(p["id"]), p["name"]) for p in providers]
