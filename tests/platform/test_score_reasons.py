"""Score reasons in English: an option's English label keeps its end (the shipped guides
wrote "Production (MES, scheduling)" unquoted in a YAML flow mapping, which cut it at the
comma: "Chosen: Production (MES (1.5 points)"), and the points take their plural form by
ngettext ("1 point", not "1 points"). Both failed before issue 27."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from gettext import GNUTranslations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from rating.rules.editions import load_edition_file
from rating.rules.indicator_points import indicator_points
from rating.rules.messages import Message, Translation
from rating.services.reference import shipped_edition_paths

pytestmark = pytest.mark.unit

CHOSEN = "已选择：%(label)s（%(points)s 分）"
CHOSEN_MANY = "已选择：%(labels)s（%(points)s 分）"


def english() -> Translation:
    """An English catalogue as `make messages` and the lead's translation give it."""
    catalog = Catalog(locale="en")
    catalog.add((CHOSEN, CHOSEN), ("Chosen: %(label)s (%(points)s point)", "Chosen: %(label)s (%(points)s points)"))
    catalog.add((CHOSEN_MANY, CHOSEN_MANY),
                ("Chosen: %(labels)s (%(points)s point)", "Chosen: %(labels)s (%(points)s points)"))
    catalog.add("否（0 分）", "No (0 points)")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = GNUTranslations(buffer)
    return Translation(translations.gettext, translations.ngettext)


@pytest.mark.parametrize("path", shipped_edition_paths(), ids=lambda p: p.stem)
def test_every_english_option_label_is_whole(path):
    edition = load_edition_file(path)
    labels = {o.value: o.label_en for i in edition.indicators for o in i.options}
    assert labels["production"] == "Production (MES, scheduling)"
    assert all(label.count("(") == label.count(")") for label in labels.values())


def test_a_chosen_option_reads_whole_in_english():
    edition = load_edition_file(next(p for p in shipped_edition_paths() if p.stem == "js-2024"))
    indicator = next(i for i in edition.indicators if any(o.value == "production" for o in i.options))
    assert indicator.type == "multi_choice"
    _points, reason = indicator_points(indicator, ["production"], date(2026, 12, 1))
    assert reason.render(english()) == "Chosen: Production (MES, scheduling) (1.5 points)"


@pytest.mark.parametrize(("points", "expected"), [
    (1, "Chosen: Cloud servers (1 point)"), (2, "Chosen: Cloud servers (2 points)"),
    (Decimal("1.5"), "Chosen: Cloud servers (1.5 points)"), (0, "Chosen: Cloud servers (0 points)"),
])
def test_points_take_their_plural_form(points, expected):
    message = Message(CHOSEN, {"label": "云服务器", "label_en": "Cloud servers", "points": points})
    assert message.render(english()) == expected
    # Stored and read back (the application page renders what scoring stored).
    assert Message.from_storage(message.to_storage()).render(english()) == expected


def test_chinese_and_messages_without_plurals_are_unchanged():
    message = Message(CHOSEN, {"label": "云服务器", "label_en": "Cloud servers", "points": 1})
    assert message.render() == "已选择：云服务器（1 分）"
    assert Message("否（0 分）").render(english()) == "No (0 points)"
