"""Certificate fonts: compact subsets of Noto Serif CJK SC, built at install time.

A Noto CJK face is a 26 MB collection of 65,000 glyphs; WeasyPrint reads and subsets the
whole of it for every document that uses it, which makes one certificate cost several
times the layout of its text. We build, once per installation (`make fonts`, or
`python -m rating.platform.fonts DIR`), subsets holding GB 2312 (the 6,763 characters
of nearly every firm's name, and the certificate's own text), ASCII, CJK punctuation
and full-width forms, under the family name "Rating Serif SC", with their outlines turned
from CFF into TrueType (quadratic) curves: HarfBuzz subsets TrueType outlines by copying
them, where a CFF face has to be parsed and desubroutinised for every document, so a
certificate renders faster and its PDF is about a third as large (the
curves are converted within 1/1000 em, invisible at any print size). The certificate's CSS
asks for that family first and Noto CJK, then HanaMin, after it, so a character outside
the subset is still drawn, by the font it was cut from or by the rare-character font.

WeasyPrint embeds a subset that keeps glyph IDs: its tables of metrics and glyph offsets
run up to the highest glyph a document uses, whatever lies below it. So the subsets hold
only what horizontal Chinese text needs: no localised forms of Japanese, Korean or
traditional Chinese (`locl`, which doubled the glyph count to 13,500), no vertical metrics,
no OpenType layout tables (kerning of Latin text, vertical forms: nothing a certificate
shows differs visibly); and their glyphs are ordered for certificates: ASCII and
punctuation, then the characters of the certificate's own text and of Jiangsu's division
names, then GB 2312's common characters (level 1) before its rare ones (level 2). A
certificate's highest glyph fell from ~13,000 to ~4,000 for a typical name, the data
WeasyPrint compresses from ~300 to ~80 KB, and the render by a fifth (docs/benchmarks.md).

The files are generated from the fonts Debian installed (fonts-noto-cjk, SIL Open Font
License) and are not part of the repository.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Generated at install into the static folder (git ignores it); every host builds its own.
FONTS_DIR = ROOT / "static" / "fonts"
FAMILY = "Rating Serif SC"
SOURCE_FAMILY = "Noto Serif CJK SC"
SOURCES = {
    "RatingSerifSC-Regular.ttf": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "RatingSerifSC-Bold.ttf": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
}
EXTRA = "★☆·〇—–‘’“”…※№"
# Text every certificate shows besides its template's: Chinese dates, issuing bodies, levels.
CERTIFICATE_TEXT = "〇一二三四五六七八九十年月日工业和信息化厅局三四五星级上云企业第批度"
# Tables WeasyPrint would embed sized by the highest glyph used, or that only layout reads.
DROPPED_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG"]


def gb2312() -> list[str]:
    """GB 2312's characters in code order: symbols, level 1 (the 3,755 common characters),
    level 2 (the 3,008 rarer ones)."""
    chars = []
    for first in range(0xA1, 0xF8):
        for second in range(0xA1, 0xFF):
            try:
                chars.append(bytes([first, second]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def characters() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0x3000, 0x3040)}
    return chars | {chr(c) for c in range(0xFF00, 0xFFF0)} | set(EXTRA) | set(gb2312())


def certificate_text() -> str:
    """ASCII, then what certificates print: the template's text, the names of places and bodies."""
    text = "".join(chr(c) for c in range(0x20, 0x7F)) + EXTRA + CERTIFICATE_TEXT
    for path in (ROOT / "templates" / "certificates" / "certificate.html",
                 ROOT / "rating" / "data" / "jiangsu-divisions.csv"):
        text += path.read_text(encoding="utf-8")
    return text


def priority() -> str:
    """The characters in the order their glyphs take: the certificates' text, then GB 2312."""
    return certificate_text() + "".join(gb2312())


def reorder_glyphs(font, first: str) -> None:
    """Put the glyphs of the characters of `first` (in its order) right after .notdef, the
    rest after them in their order; the font must have no layout tables (they address
    glyphs by ranges of IDs)."""
    layout = [tag for tag in ("GSUB", "GPOS", "GDEF", "BASE", "JSTF") if tag in font]
    if layout:
        raise ValueError(f"reordering glyphs would break the font's layout tables {layout}")
    cmap, order = font.getBestCmap(), font.getGlyphOrder()
    new, seen = [order[0]], {order[0]}
    for char in first:
        glyph = cmap.get(ord(char))
        if glyph is not None and glyph not in seen:
            seen.add(glyph)
            new.append(glyph)
    new += [glyph for glyph in order if glyph not in seen]
    for tag in font.keys():         # every table read (by glyph name) before the IDs change
        if tag != "GlyphOrder":
            font[tag]
    font.setGlyphOrder(new)
    font["glyf"].glyphOrder = new


def _build(source: str, target: Path) -> Path:
    # fontTools and WeasyPrint are imported where fonts are built or configured (lazy imports
    # for start-up time: processes that render nothing never load them).
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    collection = TTCollection(source)
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == SOURCE_FAMILY)
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += DROPPED_TABLES
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    # Hints are kept in the subset: its CFF outlines are redrawn as TrueType ones without
    # them (to_truetype), and removing them first took half of the build (~27 s a face).
    options.hinting = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in characters()])
    subsetter.subset(font)
    # A family name of our own: the subset must never stand in for the full font elsewhere.
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 6, 16, 21):
            text = record.toUnicode()
            record.string = (text.replace(SOURCE_FAMILY, FAMILY).replace("NotoSerifCJKsc", "RatingSerifSC")
                             .replace("Noto Serif CJK", "Rating Serif"))
    to_truetype(font)
    reorder_glyphs(font, priority())
    tmp = target.with_suffix(".tmp")
    font.save(str(tmp))
    tmp.replace(target)
    return target


def to_truetype(font) -> None:
    """Replace a font's CFF outlines by TrueType ones (cubic curves approximated by quadratic
    ones within 1 unit of the 1,000-unit em), in place."""
    # Lazy for start-up time, as in _build.
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), glyf
    for tag in ("CFF ", "VORG"):            # VORG belongs to CFF fonts only
        if tag in font:
            del font[tag]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["head"].indexToLocFormat, font["head"].glyphDataFormat = 0, 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    font.sfntVersion = "\x00\x01\x00\x00"


def build(folder: Path) -> list[Path]:
    """Build the missing subsets into `folder` (the two faces in parallel)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {folder / name: source for name, source in SOURCES.items() if not (folder / name).exists()}
    missing = [source for source in wanted.values() if not Path(source).exists()]
    if missing:
        raise FileNotFoundError(f"Noto Serif CJK is not installed ({', '.join(missing)}): install fonts-noto-cjk")
    if wanted:
        with ProcessPoolExecutor(max_workers=len(wanted)) as pool:
            list(pool.map(_build, wanted.values(), wanted.keys()))
    return sorted(folder / name for name in SOURCES)


def built_files(folder: Path) -> list[Path]:
    return [folder / name for name in SOURCES if (folder / name).exists()]


_local = threading.local()


def font_configuration(folder: Path):
    """A WeasyPrint font configuration with our subsets added, one per thread and process.

    Reusing it also spares each document fontconfig's start-up; WeasyPrint's own
    @font-face support adds files to its configuration the same way.
    """
    # Lazy for start-up time: only a process that renders PDFs loads WeasyPrint.
    from weasyprint.text.ffi import ffi, fontconfig, pangoft2
    from weasyprint.text.fonts import FontConfiguration

    # Keyed by process too: a configuration must not cross a fork into a worker's child.
    key = (os.getpid(), str(folder))
    cached = getattr(_local, "configs", {}).get(key)
    if cached is not None:
        return cached
    config = FontConfiguration()
    files = built_files(folder)
    for path in files:
        fontconfig.FcConfigAppFontAddFile(config._config, str(path).encode())
    if files:
        pangoft2.pango_fc_font_map_config_changed(ffi.cast("PangoFcFontMap *", config.font_map))
    _local.configs = {**getattr(_local, "configs", {}), key: config}
    return config


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else FONTS_DIR):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
