"""What text may not carry, checked wherever text enters: forms, JSON bodies, imported lists.

* Control characters (but line breaks and tabs): no one types them, and PostgreSQL refuses NUL.
* Lone UTF-16 surrogates (U+D800-U+DFFF): JSON's `"\\ud800"` escapes make them, and no page,
  database or file can encode them.
* Invisible format characters: zero-width ones (U+200B-U+200F), the byte order mark inside
  text (U+FEFF) and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069), with which `南京\\u202e司公限有` shows readers another name than the one stored.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from flask_babel import lazy_gettext as _l

HIDDEN = "\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff"
_HIDDEN = re.compile(f"[{HIDDEN}]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CONTROL_MESSAGE = _l("数据类型不正确或含有不允许的控制字符。")
HIDDEN_MESSAGE = _l("含有不允许的隐藏字符（如文字方向控制符、零宽字符或无效的编码），请删除后重新输入。")


def has_hidden(value: str) -> bool:
    """Whether `value` holds a lone surrogate or an invisible format character."""
    return _HIDDEN.search(value) is not None


def problem(value: str) -> str | None:
    """The message for text that may not be kept as it is, or None."""
    if _CONTROL.search(value):
        return str(CONTROL_MESSAGE)
    if has_hidden(value):
        return str(HIDDEN_MESSAGE)
    return None


def hidden_in_document(document) -> str | None:
    """The path (`answers.D1`, `cloud_services[0].provider`, `` for the whole body) of a
    string of a parsed JSON document, key or value, that holds a lone surrogate or an
    invisible format character; None when there is none. Walked without recursion: the
    document may be nested as deep as the parser allows."""
    for path, value in _strings(document):
        if has_hidden(value):
            return path
    return None


def _strings(document) -> Iterator[tuple[str, str]]:
    stack = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and has_hidden(key):
                    yield path, key
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
