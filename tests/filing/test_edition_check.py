"""The complete check of an edition's source (every problem by path, its YAML line), the
sample answer set's score and the side-by-side rows, as pure rules."""
from __future__ import annotations

from datetime import date

import pytest
import yaml

from rating.rules.edition_check import SourceError, line_of, problems, read_source, yaml_lines
from rating.rules.edition_preview import sample_scores, side_by_side
from rating.rules.editions import load_edition_file
from rating.services.reference import GUIDES_DIR

pytestmark = pytest.mark.unit

SHIPPED = (GUIDES_DIR / "js-2024.yaml").read_text(encoding="utf-8")


def test_a_sound_edition_has_no_problems():
    for path in sorted(GUIDES_DIR.glob("*.yaml")):
        assert problems(yaml.safe_load(path.read_text(encoding="utf-8"))) == {}


def test_every_problem_is_found_not_only_the_first():
    document = yaml.safe_load(SHIPPED)
    del document["title_en"]
    document["levels"][4]["deployments"] = ["cloud"]
    document["indicators"][1]["dimension"] = "nowhere"
    document["indicators"][2]["type"] = "mystery"
    document["levels"]["x"] = {}
    found = problems(document)
    assert set(found) == {"title_en", "levels.4.deployments", "indicators[1].dimension", "indicators[2].type",
                          "levels.x"}
    assert problems([1, 2]) == {"": "the document must be a mapping"}


def test_lines_of_paths_and_of_missing_keys():
    lines = yaml_lines(SHIPPED)
    text = SHIPPED.splitlines()
    assert text[lines["levels.4.pass_score"] - 1].strip() == "pass_score: 75"
    assert text[line_of("indicators[0].nothing_here", lines) - 1].strip().startswith("- code:")
    assert line_of("", {}) is None


def test_sources_that_do_not_parse_name_their_line():
    with pytest.raises(SourceError) as refused:
        read_source("code: x\nlevels: [1,\n", "text/yaml")
    assert refused.value.line == 3
    with pytest.raises(SourceError) as refused:
        read_source('{"code":\n "x",,}', "application/json")
    assert refused.value.line == 2


def test_the_sample_answer_set_scores_within_each_level():
    for path in sorted(GUIDES_DIR.glob("*.yaml")):
        edition = load_edition_file(path)
        scores = sample_scores(edition, date(2026, 6, 30))
        assert [s.level for s in scores] == sorted(edition.levels)
        assert all(0 < s.points <= s.max for s in scores), scores


def test_side_by_side_rows_around_the_changes():
    rows = side_by_side("a\nb\nc\nd\ne\nf\ng\nh\ni\n", "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\n", context=1)
    changed = [r for r in rows if r is not None and r.tag != "equal"]
    assert [(r.left, r.right) for r in changed] == [("d", "D"), ("", "j")]
    assert None in rows                          # the unchanged middle is skipped
    assert side_by_side("same\n", "same\n") == []


def test_yaml_aliases_are_refused_before_they_can_expand():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]\n"
    with pytest.raises(SourceError) as refused:
        read_source(bomb, "text/yaml")
    assert refused.value.line == 2 and "alias" in str(refused.value)


@pytest.mark.parametrize("media_type, text", [("application/json", "[" * 100_000), ("text/yaml", "[" * 100_000)])
def test_sources_nested_too_deeply_are_refused(media_type, text):
    with pytest.raises(SourceError):
        read_source(text, media_type)
