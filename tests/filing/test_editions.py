"""Guide editions: the shipped files parse, serialise to API.md's shape, and bad ones are refused."""
from __future__ import annotations

import copy

import pytest
import yaml

from rating.rules.editions import INDICATOR_TYPES, EditionError, load_edition_file, parse_edition
from rating.services.reference import shipped_edition_paths

pytestmark = pytest.mark.unit

PATHS = {p.stem: p for p in shipped_edition_paths()}


def document(name: str = "js-2024") -> dict:
    return yaml.safe_load(PATHS[name].read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["js-2022", "js-2024"])
def test_shipped_editions(name):
    edition = load_edition_file(PATHS[name])
    assert edition.code == name
    assert "示意" in edition.title and "illustrative" in edition.title_en
    assert sorted(edition.levels) == [3, 4, 5]
    assert {i.type for i in edition.indicators} == set(INDICATOR_TYPES)
    assert any(i.evidence_required for i in edition.indicators)
    assert edition.levels[3].deployments == ("public",)
    assert edition.levels[4].mandatory_dimensions.keys() == {"device"}
    assert edition.levels[5].mandatory_dimensions.keys() == {"device", "data_model"}
    assert all(rule.min_usage_months >= 3 for rule in edition.levels.values())
    assert edition.levels[5].final_stage == "province" and edition.levels[3].final_stage == "city"
    for level, rule in edition.levels.items():
        reachable = sum(i.max_points for i in edition.indicators_for(level))
        assert 0 < rule.pass_score < reachable


@pytest.mark.parametrize("name", ["js-2022", "js-2024"])
def test_api_shape(name):
    body = load_edition_file(PATHS[name]).to_api()
    assert set(body["levels"]) == {"3", "4", "5"}
    for level in body["levels"].values():
        assert set(level) >= {"deployments", "min_investment_yuan", "min_usage_months", "pass_score", "requires_level"}
    for indicator in body["indicators"]:
        assert set(indicator) >= {"code", "dimension", "title", "type", "required", "evidence_required",
                                  "options", "min", "max", "unit"}
        if indicator["type"] in ("choice", "multi_choice"):
            assert indicator["options"] and all(set(o) >= {"value", "label"} for o in indicator["options"])
    device = next(i for i in body["indicators"] if i["dimension"] == "device")
    assert device["levels"] == [4, 5]
    english = load_edition_file(PATHS[name]).to_api("en")
    assert english["indicators"][0]["title"].isascii()


def test_options_are_ordered_least_to_most_favourable():
    for path in PATHS.values():
        for indicator in load_edition_file(path).indicators:
            if indicator.type == "choice":
                points = [o.points for o in indicator.options]
                assert points == sorted(points), indicator.code


def mutate(path: str, value):
    doc = document()
    target = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize("path, value, expected", [
    ("indicators.0.type", "colour", "indicators[0].type"),
    ("indicators.0.dimension", "nowhere", "indicators[0].dimension"),
    ("indicators.1.code", "infra_compute", "duplicate indicator codes"),
    ("indicators.0.options", [], "indicators[0].options"),
    ("indicators.0.levels", [9], "indicators[0].levels"),
    ("indicators.4.scoring", {"thresholds": [[50, 2], [10, 4]]}, "increasing"),
    ("levels.3.deployments", ["cloudy"], "levels.3.deployments"),
    ("levels.4.requires_level", 2, "requires_level 2"),
    ("levels.5.mandatory_dimensions", {"magic": 3}, "mandatory_dimensions"),
    ("levels.5.final_stage", "nation", "final_stage"),
    ("progression", "whatever", "progression"),
    ("code", KeyError, "edition.code"),
    ("indicators.0.title", KeyError, "indicators[0].title"),
])
def test_bad_documents_are_refused_with_a_path(path, value, expected):
    with pytest.raises(EditionError) as caught:
        parse_edition(mutate(path, value))
    assert expected in str(caught.value)


def test_levels_are_data():
    doc = document()
    doc["levels"] = {1: copy.deepcopy(doc["levels"][3]), 2: copy.deepcopy(doc["levels"][3])}
    doc["levels"][2]["requires_level"] = 1
    for indicator in doc["indicators"]:
        indicator.pop("levels", None)
    edition = parse_edition(doc)
    assert sorted(edition.levels) == [1, 2]


def test_content_hash_changes_with_content():
    a = parse_edition(document())
    changed = document()
    changed["levels"][3]["pass_score"] = 51
    assert parse_edition(changed).sha256 != a.sha256
    assert parse_edition(document()).sha256 == a.sha256
