"""Unified social credit codes (统一社会信用代码).

GB 32100-2015 defines the 18-character code: registration authority (1), institution
category (1), division code (6), the organisation code of GB 11714-1997 (8 + its own
check character) and a final check character over the first 17 (mod 31).
"""
from __future__ import annotations

from typing import Any

from rating.rules.messages import N_

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_ORG_VALUE = {**{str(d): d for d in range(10)}, **{chr(ord("A") + i): 10 + i for i in range(26)}}
# Registration authority → allowed institution categories (GB 32100-2015 table 1 and
# the codes assigned since; 9 = market regulation: 1 enterprise, 2 sole proprietor, 3 co-op).
_CATEGORIES = {
    "1": "1239", "2": "19", "3": "12345679", "4": "1239", "5": "1239", "6": "129", "7": "129",
    "8": "19", "9": "123", "A": "19", "N": "12349", "Y": "1",
}


class UsccError(ValueError):
    def __init__(self, code: str, template: str, **params: Any) -> None:
        self.code, self.template, self.params = code, template, params
        self.message = template % params if params else template
        super().__init__(self.message)


def normalize_uscc(raw: str) -> str:
    text = "".join(chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else ch for ch in raw or "")
    return "".join(ch for ch in text if ch not in " \t\r\n-\u3000").upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_VALUE[ch] * w for ch, w in zip(first8, _ORG_WEIGHTS))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def validate_uscc(raw: str) -> str:
    """The normalised code, or UsccError with the most specific reason."""
    code = normalize_uscc(raw)
    if not code:
        raise UsccError("empty", N_("请输入统一社会信用代码"))
    if len(code) != 18:
        raise UsccError("length", N_("统一社会信用代码应为18位（当前为%(n)d位）"), n=len(code))
    bad = [ch for ch in code if ch not in _VALUE]
    if bad:
        raise UsccError("charset", N_("统一社会信用代码含有不允许的字符“%(ch)s”（不使用I、O、Z、S、V）"), ch=bad[0])
    if code[1] not in _CATEGORIES.get(code[0], ""):
        raise UsccError("registration_authority", N_("登记管理部门代码或机构类别代码不正确"))
    if not code[2:8].isdigit():
        raise UsccError("charset", N_("统一社会信用代码第3-8位应为行政区划代码（6位数字）"))
    if org_code_check_char(code[8:16]) != code[16]:
        raise UsccError("organisation_check", N_("组织机构代码（第9-17位）校验码不正确"))
    if uscc_check_char(code[:17]) != code[17]:
        raise UsccError("check_character", N_("统一社会信用代码第18位校验码不正确，请核对"))
    return code




def make_uscc(registration: str = "91", division: str = "320402", org8: str = "MA1XXXXX") -> str:
    """A valid code from its parts (both check characters computed)."""
    first16 = registration + division + org8
    first17 = first16 + org_code_check_char(org8)
    if first17[-1] not in _VALUE:  # never happens: X and digits are in the alphabet
        raise ValueError(first17)
    return first17 + uscc_check_char(first17)


def uscc_from_serial(n: int, division: str = "320402", registration: str = "91") -> str:
    """A distinct valid code for each serial (test data, demo data, benchmarks)."""
    return make_uscc(registration, division, f"{n:08d}"[-8:])
