"""The certificate fonts `make fonts` builds (rating/platform/fonts.py): what they hold, and
glyphs ordered for certificates without an outline moving to another character."""
from __future__ import annotations

import functools

import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTCollection, TTFont

from rating.platform import fonts

pytestmark = pytest.mark.unit


@functools.cache
def built(name: str) -> TTFont:
    return TTFont(str(fonts.FONTS_DIR / name))


@functools.cache
def source(name: str) -> TTFont:
    collection = TTCollection(fonts.SOURCES[name], lazy=True)
    return next(f for f in collection.fonts if f["name"].getDebugName(1) == fonts.SOURCE_FAMILY)


def bounds(font: TTFont, char: str) -> tuple:
    glyph_set, name = font.getGlyphSet(), font.getBestCmap()[ord(char)]
    pen = BoundsPen(glyph_set)
    glyph_set[name].draw(pen)
    return glyph_set[name].width, pen.bounds


@pytest.mark.parametrize("name", sorted(fonts.SOURCES))
def test_every_character_of_the_subset_is_there_and_nothing_else_is_kept(name):
    font = built(name)
    cmap = font.getBestCmap()
    wanted = fonts.gb2312() + [chr(c) for c in range(0x20, 0x7F)] + list(fonts.EXTRA)
    assert [c for c in wanted if ord(c) not in cmap] == []
    assert fonts.FAMILY in {font["name"].getDebugName(1), font["name"].getDebugName(16)}
    assert not set(fonts.DROPPED_TABLES) & set(font.keys())
    assert font.getGlyphOrder()[0] == ".notdef"
    # Only GB 2312 and its companions: the localised forms once doubled the glyph count.
    assert len(font.getGlyphOrder()) < 8000


@pytest.mark.parametrize("name", sorted(fonts.SOURCES))
def test_the_certificates_own_text_comes_first_then_common_characters(name):
    font = built(name)
    cmap, gid = font.getBestCmap(), font.getGlyphID
    fixed = {c for c in fonts.certificate_text() if ord(c) in cmap}
    assert {"星", "证", "〇", "锡", "★", "A"} <= fixed
    assert max(gid(cmap[ord(c)]) for c in fixed) <= len(fixed)
    gb = fonts.gb2312()
    level1, level2 = gb[gb.index("啊"):gb.index("亍")], gb[gb.index("亍"):]
    assert len(level1) == 3755 and len(level2) == 3008
    assert (max(gid(cmap[ord(c)]) for c in level1 if c not in fixed)
            < min(gid(cmap[ord(c)]) for c in level2 if c not in fixed))


@pytest.mark.parametrize("name", sorted(fonts.SOURCES))
@pytest.mark.parametrize("char", ["A", "9", "★", "，", "星", "证", "锡", "亍", "齄", "（"])
def test_each_character_keeps_its_own_outline(name, char):
    """Reordering moved glyphs, not outlines: width and bounds match the Noto glyph of the
    same character (within the 1/1000 em the TrueType curves may deviate)."""
    width, box = bounds(built(name), char)
    source_width, source_box = bounds(source(name), char)
    assert width == source_width
    assert all(abs(a - b) <= 2 for a, b in zip(box, source_box)), (box, source_box)
