"""Messages stored untranslated (template + parameters), so that the firm and the
reviewer read them later, each in their own language."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


def N_(message: str) -> str:
    """Marks a message for extraction (`make messages`); translated where it is shown."""
    return message


def ngettext(singular: str, plural: str) -> str:
    """Marks a message whose wording depends on its `points` (extracted as a plural entry by
    babel's default `ngettext` keyword: "1 point", "2 points"); Chinese has one form, so both
    arguments are the same msgid. Returns the msgid, stored like any other."""
    return singular


def plural_count(value: Any) -> int:
    """The number ngettext chooses a form by: a whole number itself, any other 2 ("1.5 points")."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return 2
    return int(number) if number == number.to_integral_value() else 2


@dataclass(frozen=True)
class Translation:
    """What renders stored messages in the reader's language: gettext, and ngettext for a
    message counted by its `points` (both as the catalogue gives them, unformatted)."""
    gettext: Callable[[str], str]
    ngettext: Callable[[str, str, int], str] | None = None

    def __call__(self, message: str) -> str:
        return self.gettext(message)


def plain(value: Any) -> Any:
    """A value as JSON has it: whole decimals as integers, dates as ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Message:
    template: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def render(self, translate: Callable[[str], str] = lambda s: s) -> str:
        params = dict(self.params)
        text = self.template
        counted = getattr(translate, "ngettext", None)
        if counted is not None and "points" in params:
            text = counted(self.template, self.template, plural_count(params["points"]))
        if text == self.template:       # not counted, or a catalogue without its plural forms
            text = translate(self.template)
        if text != self.template:
            # Translated (the catalogue's language is not the guide's Chinese): a parameter
            # with an English form, such as a guide option's label, gives that form.
            params.update({key[:-3]: value for key, value in self.params.items() if key.endswith("_en") and value})
        try:
            return text % params if params else text
        except (KeyError, ValueError, TypeError):
            # A translation whose placeholders do not fit must not break the page.
            return self.template % params if params else self.template

    def to_storage(self) -> dict:
        return {"t": self.template, "p": {k: plain(v) for k, v in self.params.items()}}

    @classmethod
    def from_storage(cls, data: Mapping) -> "Message":
        return cls(data["t"], dict(data.get("p") or {}))
