"""Fields and validators with messages a bureau clerk reads naturally."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DecimalField, IntegerField
from wtforms.validators import ValidationError

from rating.platform import text


# What a JSON value of the wrong type becomes in formdata: no field accepts it.
INVALID = "\x00invalid"


def plain_text(form, field):
    """Refuse control characters (and a JSON value of the wrong type, which carries one),
    lone surrogates and invisible format characters such as bidi overrides (rating.platform.text)."""
    problem = text.problem(field.data) if isinstance(field.data, str) else None
    if problem:
        raise ValidationError(problem)


class FiniteDecimalField(DecimalField):
    """A decimal that refuses NaN and infinities (Decimal accepts both)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(_l("请输入有效的数字。"))


class LocalIntegerField(IntegerField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("请输入整数。"))


class LocalDateField(DateField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("请输入正确的日期，格式为 YYYY-MM-DD。"))

    def _value(self):
        """A date input holds only a real date: one that could not be read (2024-02-30, from an
        address or a script) is shown empty beside its error, as a browser would show it."""
        if self.raw_data and self.data is None:
            return ""
        return super()._value()


class DateBetween:
    """A date from `first` to `last` (both included)."""

    def __init__(self, first, last):
        self.first, self.last = first, last

    def __call__(self, form, field):
        if field.data is not None and not self.first <= field.data <= self.last:
            raise ValidationError(_l("请输入 %(first)s 至 %(last)s 之间的日期。", first=self.first.isoformat(),
                                     last=self.last.isoformat()))


class Between:
    """NumberRange with Chinese messages and a unit."""

    def __init__(self, minimum=None, maximum=None, unit: str | None = None):
        self.minimum, self.maximum, self.unit = minimum, maximum, unit or ""

    def __call__(self, form, field):
        value = field.data
        if value is None:
            return
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(_l("不能小于 %(n)s%(unit)s。", n=self.minimum, unit=self.unit))
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(_l("不能大于 %(n)s%(unit)s。", n=self.maximum, unit=self.unit))
