"""Unified social credit codes (GB 32100-2015) with the embedded GB 11714 check character."""
from __future__ import annotations

import pytest

from rating.rules.uscc import (
    USCC_ALPHABET,
    UsccError,
    make_uscc,
    normalize_uscc,
    org_code_check_char,
    uscc_check_char,
    uscc_from_serial,
    validate_uscc,
)

pytestmark = pytest.mark.unit


def is_valid_uscc(raw: str) -> bool:
    try:
        validate_uscc(raw)
        return True
    except UsccError:
        return False


# Published codes of well-known firms (business licences are public records).
REAL = [
    "914403001922038216",   # 华为技术有限公司
    "9144030071526726XG",   # 深圳市腾讯计算机系统有限公司 (organisation check character X)
    "91330100716105852F",   # 阿里巴巴（中国）有限公司
]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code):
    assert validate_uscc(code) == code


@pytest.mark.parametrize("raw", [" 91330100716105852f ", "91330100-716105852F", "９１３３０１００７１６１０５８５２Ｆ",
                                 "9133 0100 7161 0585 2F"])
def test_normalisation(raw):
    assert validate_uscc(raw) == "91330100716105852F"
    assert normalize_uscc(raw) == "91330100716105852F"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("9133010071610585", "length"),
        ("91330100716105852FA", "length"),
        ("91330100716105852I", "charset"),
        ("91330100716105852O", "charset"),
        ("9133010071610585ZF", "charset"),
        ("91330100716105852S", "charset"),
        ("91330100716105852V", "charset"),
        ("99330100716105852F", "registration_authority"),
        ("Z1330100716105852F", "charset"),
        ("91A30100716105852F", "charset"),
        ("91330100716105852G", "check_character"),
    ],
)
def test_rejections_name_the_reason(raw, reason):
    with pytest.raises(UsccError) as caught:
        validate_uscc(raw)
    assert caught.value.code == reason
    assert caught.value.message  # a sentence for the clerk


def test_organisation_check_is_checked_on_its_own():
    # Change the organisation check character, then recompute the final one so that
    # only the GB 11714 check fails.
    code = "91330100716105852F"
    first16 = code[:16]
    wrong = next(c for c in "0123456789X" if c != code[16])
    forged = first16 + wrong + uscc_check_char(first16 + wrong)
    with pytest.raises(UsccError) as caught:
        validate_uscc(forged)
    assert caught.value.code == "organisation_check"


@pytest.mark.parametrize("position", range(18))
def test_every_single_substitution_is_caught(position):
    code = REAL[0]
    for replacement in USCC_ALPHABET[:12] + "XYW":
        if replacement == code[position]:
            continue
        corrupted = code[:position] + replacement + code[position + 1:]
        assert not is_valid_uscc(corrupted), corrupted


@pytest.mark.parametrize("code", REAL)
def test_adjacent_transpositions_in_the_body_are_caught(code):
    caught = 0
    pairs = 0
    for i in range(8, 17):
        if code[i] == code[i + 1]:
            continue
        pairs += 1
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
        caught += not is_valid_uscc(swapped)
    assert caught == pairs


def test_check_character_algorithms():
    assert org_code_check_char("71526726") == "X"
    assert uscc_check_char("91440300192203821") == "6"
    assert make_uscc("91", "440300", "19220382") == "914403001922038216"


def test_serials_give_distinct_valid_codes():
    codes = {uscc_from_serial(n) for n in range(1000)}
    assert len(codes) == 1000
    assert all(is_valid_uscc(c) for c in codes)
    assert uscc_from_serial(5, division="320481")[2:8] == "320481"
