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
