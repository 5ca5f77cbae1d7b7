"""A guide edition's source document checked completely: every problem by its path in the
document (`indicators[3].options`) and, for YAML, its line.

`parse_edition` stops at the first problem (a bad edition must never be half-loaded); an
author uploading one wants them all at once. Each part (the top-level keys, each
dimension, each level, each indicator) is checked on its own, so one bad indicator does
not hide the next; the checks across parts run once the parts are sound.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from rating.rules.editions import (Edition, EditionError, _indicator, _level, _Reader, parse_edition)

MEDIA_TYPES = ("text/yaml", "application/json")
TOP_LEVEL = (("code", str), ("title", str), ("title_en", str), ("progression", str), ("dimensions", list),
             ("levels", Mapping), ("indicators", list))


class SourceError(ValueError):
    """The source does not parse as its media type; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


MAX_FLOW_DEPTH = 64


def _flow_depth(text: str) -> int:
    """How deep [ and { nest (quotes ignored: an over-count only refuses sooner). PyYAML's
    scanner takes time quadratic in this depth, so a deep one is refused before it parses."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


def read_source(text: str, media_type: str) -> Any:
    """The document in `text` (YAML or JSON)."""
    if media_type == "application/json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SourceError(str(exc), getattr(exc, "lineno", None))
        except RecursionError:
            raise SourceError("nested too deeply")
    if _flow_depth(text) > MAX_FLOW_DEPTH:
        raise SourceError(f"brackets nested more than {MAX_FLOW_DEPTH} deep")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            # An alias repeats a node without copying it; expanded (to JSON, to hash it) a
            # few nested ones grow exponentially. Editions have no use for them.
            if isinstance(event, yaml.AliasEvent):
                raise SourceError("aliases (*name) are not allowed", event.start_mark.line + 1)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SourceError(str(exc), mark.line + 1 if mark is not None else None)
    except RecursionError:
        raise SourceError("nested too deeply")


def _split(error: EditionError) -> tuple[str, str]:
    where, _sep, message = str(error).partition(": ")
    path = where.removeprefix("edition").removeprefix(".")
    return path, message


def problems(document: Any) -> dict[str, str]:
    """Every problem of `document` as {path: message}; empty when it is a sound edition."""
    if not isinstance(document, Mapping):
        return {"": "the document must be a mapping"}
    found: dict[str, str] = {}

    def attempt(check: Callable[[], Any]) -> Any:
        try:
            return check()
        except EditionError as exc:
            path, message = _split(exc)
            found.setdefault(path, message)
        except (TypeError, KeyError, IndexError, AttributeError) as exc:   # a part of the wrong shape
            found.setdefault("", f"malformed: {exc}")
        return None

    root = _Reader(document, "edition")
    present = {key: attempt(lambda key=key, kind=kind: root.get(key, kind)) for key, kind in TOP_LEVEL}
    dimensions: set[str] = set()
    for index, raw in enumerate(present["dimensions"] or []):
        part = root.child("dimensions").child(index)
        code = attempt(lambda part=part: [part.get(k, str) for k in ("code", "title", "title_en")][0])
        if code is not None:
            dimensions.add(code)
    levels: set[int] = set()
    for key, raw in (present["levels"] or {}).items():
        level = int(key) if not isinstance(key, bool) and str(key).isdigit() else 0
        if level <= 0:
            found.setdefault(f"levels.{key}", "a level must be a positive integer")
            continue
        levels.add(level)
        attempt(lambda raw=raw, key=key, level=level: _level(_Reader(raw, f"edition.levels.{key}"), level, dimensions))
    for index in range(len(present["indicators"] or [])):
        attempt(lambda index=index: _indicator(root.child("indicators").child(index), dimensions, levels))
    if not found:
        attempt(lambda: parse_edition(document))
    return found


def parsed(document: Any) -> Edition | None:
    """The edition when `document` is sound, else None (see `problems`)."""
    try:
        return parse_edition(document)
    except (EditionError, TypeError, KeyError, IndexError, AttributeError):
        return None


def yaml_lines(text: str) -> dict[str, int]:
    """The 1-based line of each path of a YAML document (`indicators[3].options` → 57)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    if node is not None:
        walk(node, "")
    return lines


def line_of(path: str, lines: Mapping[str, int]) -> int | None:
    """The line of `path`, or of its nearest ancestor the document has (a missing key)."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
