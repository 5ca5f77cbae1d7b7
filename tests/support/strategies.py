"""Hypothesis strategies for hostile input: what people paste, what scripts send, what breaks parsers."""
from __future__ import annotations

import io
import zipfile
from datetime import date

from hypothesis import strategies as st

from tests.support.factories import PDF_BYTES, PNG_BYTES

MISSING = object()    # the field is left out

NASTY = [
    "", " ", "\x00", "\x00invalid", "a\x00b", "\x1b[31m", "\x7f", "\r\n\t", "\u202egnp.exe", "\ufeff",
    "\u200b", "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}", "${jndi:ldap://x/a}", "%s%s%n",
    "../../etc/passwd", "=cmd|' /C calc'!A0", "NaN", "Infinity", "-Infinity", "1e309", "-0", "0", "-1",
    "1.5", "0x10", "٣", "2147483647", "2147483648", "-2147483649", "9223372036854775808", "9" * 30,
    "9" * 5000, "true", "false", "null", "[]", "{}", "on", "y",
    "9999-12-31", "0001-01-01", "0000-00-00", "2024-02-30", "2024-13-01", "10000-01-01", "-2024-01-01",
    "2024-1-1", "2024/01/01", "1970-01-01T00:00:00Z", "𠀀𪚥", "ÅÄÖ", "\U0010ffff",
    "南京\u202e司公限有\u202c", "\u2066x\u2069", "a\u200fb", "\u202ax", "zero\u200dwidth",
]
# Only a JSON body carries these (as `\\ud800` escapes): no form or URL encoding can.
SURROGATES = ["\ud800", "\udfff", "a\udbffb", "\udc00\ud800", "南京\ud83d"]

LONG = st.builds(lambda piece, n: piece * n,
                 st.sampled_from(["x", "丂", "𠀀", "\u202e", "9", "<a>", "\x00"]),
                 st.sampled_from([201, 4001, 20_000, 100_000]))

TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),                         # any code point but surrogates: controls included
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats().map(repr),
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    LONG,
)

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(), st.sampled_from(NASTY + SURROGATES), st.text(max_size=30))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(SURROGATES)), inner,
                                      max_size=4), max_leaves=15)
HIDDEN = st.sampled_from(SURROGATES + ["\u202e", "\u2066", "\u200b", "\ufeff"])


def with_hidden(document, character: str):
    """`document` with `character` appended to each of its strings (keys included)."""
    if isinstance(document, str):
        return document + character
    if isinstance(document, list):
        return [with_hidden(item, character) for item in document]
    if isinstance(document, dict):
        return {with_hidden(key, character): with_hidden(value, character) for key, value in document.items()}
    return document


def _every_or_one(valid: dict, spoil) -> st.SearchStrategy[dict]:
    """Every value through `spoil`, or all valid but one: then the rest passes the checks
    and the odd value reaches the use case. MISSING values are left out."""
    every = st.fixed_dictionaries({name: spoil(value) for name, value in valid.items()})
    if valid:
        one = st.sampled_from(sorted(valid)).flatmap(lambda spoilt: st.fixed_dictionaries(
            {name: spoil(value) if name == spoilt else st.just(value) for name, value in valid.items()}))
        every = st.one_of(every, one)
    return every.map(lambda data: {name: value for name, value in data.items() if value is not MISSING})


def field(valid) -> st.SearchStrategy:
    """A form value: left out, the valid one, something hostile, or several values at once."""
    return st.one_of(st.just(MISSING), st.just(valid), TEXT,
                     st.lists(st.one_of(st.just(valid), TEXT), min_size=2, max_size=3))


EXTRA_KEYS = st.one_of(st.sampled_from(["cloud_services-99999999999999999999-provider", "answers-", "-",
                                        "payments-0-amount", "submit", "\x00"]),
                       st.text(max_size=20))


def form_data(valid: dict[str, object]) -> st.SearchStrategy[dict]:
    """Posts built around a valid one (field → value), with odd extra keys now and then."""
    valid = {name: value if isinstance(value, list) else str(value) for name, value in valid.items()}
    extra = st.dictionaries(EXTRA_KEYS.filter(lambda key: key != "csrf_token"), TEXT, max_size=2)
    return st.builds(lambda data, more: {**more, **data}, _every_or_one(valid, field), extra)


def json_value(valid) -> st.SearchStrategy:
    """A JSON member: left out, the valid one, or any JSON at all."""
    return st.one_of(st.just(MISSING), st.just(valid), JSON)


def json_body(valid: dict[str, object]) -> st.SearchStrategy:
    """Any JSON at all, or an object of the endpoint's own keys built around a valid body."""
    return st.one_of(JSON, _every_or_one(valid, json_value))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


CSV_LIST = "企业名称,统一社会信用代码,区县代码,星级,年度\n".encode()
FILE_BODIES = st.one_of(
    st.sampled_from([
        b"", PDF_BYTES, PNG_BYTES, b"%PDF-1.4\n<script>alert(1)</script>", b"\xff\xd8\xffPK\x03\x04",
        b"MZ\x90\x00", CSV_LIST, b"\xef\xbb\xbf" + CSV_LIST + "某公司,123,320402,3,2024\n".encode(),
        zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
        zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"0" * 200_000}),
    ]),
    st.binary(max_size=300),
    st.binary(max_size=100).map(lambda tail: b"PK\x03\x04" + tail),
    st.binary(max_size=100).map(lambda tail: b"%PDF-" + tail),
)
FILE_NAMES = st.one_of(
    st.sampled_from(["a.pdf", "名单.xlsx", "list.csv", "../../etc/passwd", "a\x00b.pdf", "\u202efdp.exe",
                     "x" * 1000 + ".pdf", "", ".", "CON", "a/b\\c.pdf", "name\r\nX-Header: 1.pdf",
                     '"quoted".pdf']),
    st.text(max_size=40),
)
FILES = st.one_of(st.just(MISSING), st.tuples(FILE_BODIES, FILE_NAMES))

RAW_BODIES = [
    b"", b"{", b"[1, 2]", b'"text"', b"null", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b'{"batch_id": 1e999999}', b'{"batch_id": NaN}',
    b'{"version": ' + b"9" * 5000 + b"}", b'{"\xed\xa0\x80": 1}',
]
# By position: a failing example then reads `raw=6`, not a 200 kB repr.
RAW = st.sampled_from(range(len(RAW_BODIES)))
