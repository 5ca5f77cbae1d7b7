"""Guide editions (the rubric) as data: parse, validate and serialise.

An edition is a YAML/JSON document; `parse_edition` turns it into frozen objects and
refuses anything malformed with the path of the problem, so that a bad edition is
caught when it is loaded, never while a firm's application is scored.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from rating.rules.stages import STAGES

INDICATOR_TYPES = ("boolean", "integer", "decimal", "choice", "multi_choice", "text", "date")
DEPLOYMENTS = ("public", "private", "hybrid")
PROGRESSION_MODES = ("requires", "stepwise")


class EditionError(ValueError):
    """A malformed edition; the message starts with the path of the problem."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    label_en: str
    points: Decimal


@dataclass(frozen=True)
class Indicator:
    code: str
    dimension: str
    title: str
    title_en: str
    type: str
    required: bool
    evidence_required: bool
    options: tuple[Option, ...]
    min: Decimal | None
    max: Decimal | None
    unit: str | None
    levels: tuple[int, ...] | None
    max_points: Decimal
    scoring: Mapping[str, Any] = field(hash=False, compare=False)
    help: str | None = None
    help_en: str | None = None

    def applies_to(self, level: int) -> bool:
        return self.levels is None or level in self.levels

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Dimension:
    code: str
    title: str
    title_en: str


@dataclass(frozen=True)
class LevelRule:
    level: int
    name: str
    name_en: str
    deployments: tuple[str, ...]
    min_investment_yuan: Decimal
    min_usage_months: int
    pass_score: Decimal
    requires_level: int | None
    mandatory_dimensions: Mapping[str, Decimal] = field(hash=False, compare=False)
    final_stage: str = "city"
    reward_yuan: Decimal = Decimal(0)


@dataclass(frozen=True)
class Edition:
    code: str
    title: str
    title_en: str
    version: int
    levels: Mapping[int, LevelRule] = field(hash=False, compare=False)
    dimensions: tuple[Dimension, ...]
    indicators: tuple[Indicator, ...]
    progression_mode: str
    computed: Mapping[str, Any] = field(hash=False, compare=False)
    sha256: str
    document: Mapping[str, Any] = field(hash=False, compare=False, repr=False)

    def indicator(self, code: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        raise KeyError(code)

    def indicators_for(self, level: int) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.applies_to(level))

    def dimension(self, code: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.code == code:
                return dimension
        raise KeyError(code)

    def to_api(self, locale: str = "zh") -> dict:
        en = locale.startswith("en")
        return {
            "code": self.code,
            "title": self.title_en if en else self.title,
            "version": self.version,
            "progression": self.progression_mode,
            "levels": {
                str(level): {
                    "name": rule.name_en if en else rule.name,
                    "deployments": list(rule.deployments),
                    "min_investment_yuan": _number(rule.min_investment_yuan),
                    "min_usage_months": rule.min_usage_months,
                    "pass_score": _number(rule.pass_score),
                    "requires_level": rule.requires_level,
                    "mandatory_dimensions": {k: _number(v) for k, v in rule.mandatory_dimensions.items()},
                    "final_stage": rule.final_stage,
                    "reward_yuan": _number(rule.reward_yuan),
                }
                for level, rule in sorted(self.levels.items())
            },
            "dimensions": [{"code": d.code, "title": d.title_en if en else d.title} for d in self.dimensions],
            "indicators": [
                {
                    "code": i.code,
                    "dimension": i.dimension,
                    "title": i.title_en if en else i.title,
                    "type": i.type,
                    "required": i.required,
                    "evidence_required": i.evidence_required,
                    "options": [{"value": o.value, "label": o.label_en if en else o.label} for o in i.options],
                    "min": _number(i.min),
                    "max": _number(i.max),
                    "unit": i.unit,
                    **({"levels": list(i.levels)} if i.levels is not None else {}),
                    "max_points": _number(i.max_points),
                    "help": (i.help_en if en else i.help),
                }
                for i in self.indicators
            ],
        }


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


class _Reader:
    """Typed access to a document with error paths."""

    def __init__(self, data: Any, path: str) -> None:
        self.data, self.path = data, path

    def fail(self, message: str, key: str | None = None) -> EditionError:
        where = f"{self.path}.{key}" if key else self.path
        return EditionError(f"{where}: {message}")

    def mapping(self) -> Mapping:
        if not isinstance(self.data, Mapping):
            raise self.fail("must be a mapping")
        return self.data

    def get(self, key: str, kind: type | tuple, default: Any = ..., ) -> Any:
        data = self.mapping()
        if key not in data or data[key] is None:
            if default is ...:
                raise self.fail("is required", key)
            return default
        value = data[key]
        if kind is Decimal:
            if isinstance(value, bool):
                raise self.fail("must be a number", key)
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise self.fail("must be a number", key)
            if not number.is_finite():
                raise self.fail("must be a finite number", key)
            return number
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail("must be an integer", key)
        if kind is not int and not isinstance(value, kind):
            raise self.fail(f"must be {getattr(kind, '__name__', kind)}", key)
        return value

    def child(self, key: str | int) -> "_Reader":
        data = self.mapping()[key] if isinstance(key, str) else self.data[key]
        suffix = f".{key}" if isinstance(key, str) else f"[{key}]"
        return _Reader(data, self.path + suffix)


def _thresholds(reader: _Reader, key: str = "thresholds") -> list[tuple[Decimal, Decimal]]:
    rows = reader.get(key, list, [])
    result = []
    for index, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 2):
            raise reader.fail(f"[{index}] must be [at_least, points]", key)
        try:
            pair = (Decimal(str(row[0])), Decimal(str(row[1])))
        except InvalidOperation:
            raise reader.fail(f"[{index}] must hold numbers", key)
        if result and pair[0] <= result[-1][0]:
            raise reader.fail("must be in increasing order", key)
        result.append(pair)
    return result


def _indicator(reader: _Reader, dimensions: set[str], levels: set[int]) -> Indicator:
    code = reader.get("code", str)
    if not code.isidentifier() or not code.isascii():
        raise reader.fail(f"code {code!r} must be an ASCII identifier")
    kind = reader.get("type", str)
    if kind not in INDICATOR_TYPES:
        raise reader.fail(f"unknown type {kind!r}", "type")
    dimension = reader.get("dimension", str)
    if dimension not in dimensions:
        raise reader.fail(f"unknown dimension {dimension!r}", "dimension")
    options: list[Option] = []
    raw_options = reader.get("options", list, [])
    if kind in ("choice", "multi_choice") and not raw_options:
        raise reader.fail(f"a {kind} indicator needs options", "options")
    if kind not in ("choice", "multi_choice") and raw_options:
        raise reader.fail(f"a {kind} indicator has no options", "options")
    for index in range(len(raw_options)):
        option = reader.child("options").child(index)
        options.append(Option(value=str(option.get("value", (str, int))), label=option.get("label", str),
                              label_en=_label_en(option), points=option.get("points", Decimal, Decimal(0))))
    if len({o.value for o in options}) != len(options):
        raise reader.fail("option values must be unique", "options")
    scoring_reader = reader.child("scoring") if reader.mapping().get("scoring") is not None else _Reader({}, reader.path + ".scoring")
    scoring = dict(scoring_reader.mapping())
    if kind in ("integer", "decimal"):
        thresholds = _thresholds(scoring_reader)
        scoring["thresholds"] = thresholds
        natural = max((p for _t, p in thresholds), default=Decimal(0))
    elif kind == "choice":
        natural = max(o.points for o in options)
    elif kind == "multi_choice":
        natural = sum((o.points for o in options), Decimal(0))
    elif kind == "date":
        scoring["months_before_cutoff"] = scoring_reader.get("months_before_cutoff", int, 0)
        natural = scoring["points"] = scoring_reader.get("points", Decimal, Decimal(0))
    elif kind == "text":
        scoring["min_length"] = scoring_reader.get("min_length", int, 1)
        natural = scoring["points"] = scoring_reader.get("points", Decimal, Decimal(0))
    else:
        natural = scoring["points"] = scoring_reader.get("points", Decimal, Decimal(0))
    max_points = reader.get("max_points", Decimal, natural)
    if max_points < 0:
        raise reader.fail("must not be negative", "max_points")
    applies = reader.get("levels", list, None)
    if applies is not None:
        if not applies or any(lvl not in levels for lvl in applies):
            raise reader.fail("must list defined levels", "levels")
        applies = tuple(sorted(applies))
    minimum, maximum = reader.get("min", Decimal, None), reader.get("max", Decimal, None)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise reader.fail("min is greater than max", "min")
    return Indicator(
        code=code, dimension=dimension, title=reader.get("title", str), title_en=reader.get("title_en", str),
        type=kind, required=reader.get("required", bool, False),
        evidence_required=reader.get("evidence_required", bool, False), options=tuple(options),
        min=minimum, max=maximum, unit=reader.get("unit", str, None), levels=applies,
        max_points=max_points, scoring=scoring, help=reader.get("help", str, None),
        help_en=reader.get("help_en", str, None),
    )


def _level(reader: _Reader, level: int, dimensions: set[str]) -> LevelRule:
    deployments = reader.get("deployments", list)
    if not deployments or any(d not in DEPLOYMENTS for d in deployments):
        raise reader.fail(f"must be a non-empty list of {', '.join(DEPLOYMENTS)}", "deployments")
    mandatory = {}
    for code, minimum in (reader.get("mandatory_dimensions", Mapping, {}) or {}).items():
        if code not in dimensions:
            raise reader.fail(f"unknown dimension {code!r}", "mandatory_dimensions")
        mandatory[code] = reader.child("mandatory_dimensions").get(code, Decimal)
    stage = reader.get("final_stage", str, "city")
    if stage not in STAGES:
        raise reader.fail(f"must be one of {', '.join(STAGES)}", "final_stage")
    months = reader.get("min_usage_months", int)
    if months < 0:
        raise reader.fail("must not be negative", "min_usage_months")
    return LevelRule(
        level=level, name=reader.get("name", str), name_en=reader.get("name_en", str),
        deployments=tuple(deployments), min_investment_yuan=reader.get("min_investment_yuan", Decimal),
        min_usage_months=months, pass_score=reader.get("pass_score", Decimal),
        requires_level=reader.get("requires_level", int, None), mandatory_dimensions=mandatory,
        final_stage=stage, reward_yuan=reader.get("reward_yuan", Decimal, Decimal(0)),
    )


def canonical_sha256(document: Mapping) -> str:
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


OPTION_KEYS = ("value", "label", "label_en", "points")


def _label_en(option: _Reader) -> str:
    """An option's English label. A comma in it, written unquoted inside a YAML flow mapping
    (`{…, label_en: Production (MES, scheduling), …}`, as the shipped editions have it),
    ends the value there and makes its rest a key without a value ("scheduling)": None);
    the rest is joined back as the author wrote it. (The documents stay as stored: an
    edition a batch uses never changes.)"""
    rest = [str(key) for key, value in option.mapping().items() if key not in OPTION_KEYS and value is None]
    return ", ".join([option.get("label_en", str), *rest])


def parse_edition(document: Mapping) -> Edition:
    root = _Reader(document, "edition")
    root.mapping()
    code = root.get("code", str)
    dimensions_raw = root.get("dimensions", list)
    dimensions = []
    for index in range(len(dimensions_raw)):
        d = root.child("dimensions").child(index)
        dimensions.append(Dimension(code=d.get("code", str), title=d.get("title", str), title_en=d.get("title_en", str)))
    dimension_codes = {d.code for d in dimensions}
    if len(dimension_codes) != len(dimensions):
        raise root.fail("dimension codes must be unique", "dimensions")
    raw_levels = root.get("levels", Mapping)
    levels: dict[int, LevelRule] = {}
    for key in raw_levels:
        try:
            level = int(key)
        except (TypeError, ValueError):
            raise root.fail(f"level {key!r} is not a number", "levels")
        if level <= 0 or isinstance(key, bool):
            raise root.fail(f"level {key!r} must be a positive integer", "levels")
        levels[level] = _level(_Reader(raw_levels[key], f"edition.levels.{key}"), level, dimension_codes)
    if not levels:
        raise root.fail("at least one level is needed", "levels")
    for rule in levels.values():
        if rule.requires_level is not None and rule.requires_level not in levels:
            raise root.fail(f"requires_level {rule.requires_level} is not a defined level", f"levels.{rule.level}")
    mode = root.get("progression", str)
    if mode not in PROGRESSION_MODES:
        raise root.fail(f"must be one of {', '.join(PROGRESSION_MODES)}", "progression")
    raw_indicators = root.get("indicators", list)
    indicators = tuple(_indicator(root.child("indicators").child(i), dimension_codes, set(levels))
                       for i in range(len(raw_indicators)))
    codes = [i.code for i in indicators]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise root.fail(f"duplicate indicator codes: {', '.join(duplicates)}", "indicators")
    computed: dict[str, Any] = {}
    computed_reader = root.child("computed") if document.get("computed") is not None else _Reader({}, "edition.computed")
    for name in ("investment", "usage"):
        if name in computed_reader.mapping():
            part = computed_reader.child(name)
            dimension = part.get("dimension", str)
            if dimension not in dimension_codes:
                raise part.fail(f"unknown dimension {dimension!r}", "dimension")
            computed[name] = {"dimension": dimension, "thresholds": _thresholds(part)}
    version = root.get("version", int, 1)
    plain = json.loads(json.dumps(document, default=str))
    return Edition(
        code=code, title=root.get("title", str), title_en=root.get("title_en", str), version=version,
        levels=levels, dimensions=tuple(dimensions), indicators=indicators, progression_mode=mode,
        computed=computed, sha256=canonical_sha256(plain), document=plain,
    )


def load_edition_file(path: Path | str) -> Edition:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EditionError(f"{path}: not valid YAML: {exc}")
    if not isinstance(document, Mapping):
        raise EditionError(f"{path}: the document must be a mapping")
    return parse_edition(document)

