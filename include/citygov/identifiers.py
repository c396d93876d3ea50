"""Chinese public identifiers: resident ID numbers, credit codes, mobile numbers, division codes, masking.

- Resident ID (居民身份证号码, GB 11643-1999): 6-digit division code + birth date YYYYMMDD + 3-digit
  sequence (odd male, even female) + ISO 7064 MOD 11-2 check character.
- Unified social credit code (统一社会信用代码, GB 32100-2015): registering authority, entity type,
  6-digit division code, 9-character organisation code (GB 11714, with its own check character) and a
  MOD 31 check character.
- Division codes (行政区划代码, GB/T 2260) are a table, not an identifier: :mod:`citygov.quality.reference`.

The checks here are structural and arithmetic on purpose. ``stdnum.cn.ric`` also rejects a division
code that did not exist in the birth year, raises ``KeyError`` for an unknown county and rejects old
15-digit numbers; none of that is relied on here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from stdnum import luhn

# --- resident ID (GB 11643-1999) --------------------------------------------------------------------

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"
# Shape only (division, plausible YYYYMMDD, sequence, check), used to recognise an ID column even
# when some of its values are wrong.
_RIC_SHAPE_RE = re.compile(r"^\d{6}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx]$")
_RIC15_SHAPE_RE = re.compile(r"^\d{6}\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}$")


def ric_check_char(first17: str) -> str:
    """The MOD 11-2 check character of a resident ID, from its first 17 digits.

    >>> ric_check_char("32070619900101123")
    '0'
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected the first 17 digits of a resident ID, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _RIC_WEIGHTS, strict=True))
    return _RIC_CHECK[total % 11]


def make_ric(division: str, birth: date, seq: int) -> str:
    """Build an 18-character resident ID: division code, birth date, sequence ``seq`` (0..999; odd is
    male, even is female) and the check character."""
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"division code must be 6 digits, got {division!r}")
    if not 0 <= seq <= 999:
        raise ValueError(f"sequence must be 0..999, got {seq}")
    first17 = f"{division}{birth:%Y%m%d}{seq:03d}"
    return first17 + ric_check_char(first17)


def ric_birth_date(value: object) -> date | None:
    """The birth date encoded in an 18-digit (or old 15-digit, 19xx) resident ID, or None when the
    number has no real date in it."""
    text = _text(value).upper()
    try:
        if len(text) == 18 and text[:17].isdigit():
            return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        if len(text) == 15 and text.isdigit():
            return date(1900 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
    except ValueError:
        return None
    return None


RIC_MIN_YEAR = 1850
"""Birth years before this are not real (the GB 11643 example is born 1880)."""

RIC18_RE = re.compile(r"[0-9]{17}[0-9X]")
"""An 18-character ID number's shape (upper-case ``X``; use ``fullmatch``)."""
RIC15_RE = re.compile(r"[0-9]{15}")
"""An old 15-digit ID number's shape (use ``fullmatch``)."""


def _real_date(year: int, month: int, day: int) -> bool:
    if year < RIC_MIN_YEAR or not 1 <= month <= 12 or day < 1:
        return False
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    days = 29 if month == 2 and leap else 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31
    return day <= days


def ric_birth_text(text: str) -> str | None:
    """The birth date in an 18- or 15-digit ID number (upper-case text) as ``YYYY-MM-DD``, when it is a
    real date from :data:`RIC_MIN_YEAR` on. Needs only the digits, not a right check character."""
    if RIC18_RE.fullmatch(text):
        y, m, d = int(text[6:10]), int(text[10:12]), int(text[12:14])
    elif RIC15_RE.fullmatch(text):
        y, m, d = 1900 + int(text[6:8]), int(text[8:10]), int(text[10:12])
    else:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}" if _real_date(y, m, d) else None


def ric_defect(text: str, *, as_of: date | str | None = None, allow_15_digit: bool = True) -> str | None:
    """What is wrong with an ID number (upper-case text, spaces stripped) apart from its division code,
    or None: ``format``, ``fifteen_digit`` (old 15-digit numbers when not allowed), ``check_char``,
    ``birth_date`` (no real date from 1850 on), ``future_birth`` (after ``as_of``).

    The one resident-ID check: :func:`ric_is_valid` and the quality rule
    (:mod:`citygov.quality.registry.ric`, which adds the GB/T 2260 division) both ask it."""
    if RIC18_RE.fullmatch(text):
        if ric_check_char(text[:17]) != text[17]:
            return "check_char"
    elif RIC15_RE.fullmatch(text):
        if not allow_15_digit:
            return "fifteen_digit"
    else:
        return "format"
    born = ric_birth_text(text)
    if born is None:
        return "birth_date"
    if as_of is not None and born > (as_of.isoformat() if isinstance(as_of, date) else str(as_of)[:10]):
        return "future_birth"
    return None


def ric_is_valid(value: object, *, as_of: date | None = None) -> bool:
    """Whether ``value`` is a well-formed 18-character resident ID: 17 digits and the right check
    character (``X`` in either case), with a real birth date (not after ``as_of`` when given).

    The division code is not checked against GB/T 2260 here; old 15-digit numbers are not valid.
    """
    return ric_defect(_text(value).upper(), as_of=as_of, allow_15_digit=False) is None


# --- organisation code (GB 11714) and unified social credit code (GB 32100-2015) -----------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a credit code may use (no I, O, Z, S, V)."""

_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_RE = re.compile(rf"^[{USCC_ALPHABET}]{{2}}\d{{6}}[{USCC_ALPHABET}]{{10}}$")
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(first17: str) -> str:
    """The MOD 31 check character of a unified social credit code, from its first 17 characters."""
    text = first17.upper()
    if len(text) != 17 or any(c not in USCC_ALPHABET for c in text):
        raise ValueError(f"expected the first 17 characters of a credit code, got {first17!r}")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(text, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The GB 11714 check character of a 9-character organisation code, from its first 8 characters
    (digits and capital letters, A=10 … Z=35)."""
    text = first8.upper()
    if len(text) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in text):
        raise ValueError(f"expected the first 8 characters of an organisation code, got {first8!r}")
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(text, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(division: str, org_seq: int, registering: str = "9", entity_type: str = "1") -> str:
    """Build a unified social credit code.

    ``registering`` is the registering authority (1 机构编制, 5 民政, 9 工商/市场监管, …), ``entity_type``
    the entity type within it (for 9: 1 企业, 2 个体工商户, 3 农民专业合作社). The organisation code is
    ``org_seq`` as 8 digits plus its GB 11714 check character, so the result passes both check
    characters (and ``stdnum.cn.uscc``, which wants digits in positions 1–8).
    """
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"division code must be 6 digits, got {division!r}")
    if not 0 <= org_seq < 10**8:
        raise ValueError(f"organisation sequence must be 0..99999999, got {org_seq}")
    if len(registering) != 1 or len(entity_type) != 1 or not (registering + entity_type).isdigit():
        raise ValueError("registering authority and entity type are single digits")
    body = f"{org_seq:08d}"
    first17 = f"{registering}{entity_type}{division}{body}{org_code_check_char(body)}"
    return first17 + uscc_check_char(first17)


def uscc_is_valid(value: object) -> bool:
    """Whether ``value`` is a well-formed credit code: 18 characters of the credit-code alphabet, a
    6-digit division part and the right MOD 31 check character."""
    text = _text(value).upper()
    return bool(_USCC_RE.match(text)) and text[-1] == uscc_check_char(text[:17])


# --- mobile numbers ------------------------------------------------------------------------------------

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
"""A mainland mobile number: 11 digits starting 13–19."""


# --- vehicle plates and bank cards ------------------------------------------------------------------------

PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The province abbreviations a mainland number plate (号牌, GA 36) starts with."""
_PLATE_BODY = (
    rf"[{PLATE_PROVINCES}][A-HJ-NP-Z][·・.\- ]?(?=[A-HJ-NP-Z0-9]{{0,5}}[0-9])[A-HJ-NP-Z0-9]{{4,5}}"
    r"[A-HJ-NP-Z0-9挂学警港澳领]"
)
PLATE_RE = re.compile(rf"^{_PLATE_BODY}$")
"""A plate: province, issuing letter, an optional dot, then 5 characters (6 on new-energy plates) with a
digit among them; the last may be 挂 学 警 港 澳 领."""


def _card_digits(text: str) -> str:
    """A card number without the spaces or hyphens between its groups."""
    return re.sub(r"[ \-]", "", text.strip())


def card_number_defect(digits: str) -> str | None:
    """What is wrong with a bank card number (GB/T 15694, ISO/IEC 7812) given without its group
    separators: ``format`` (not 16 to 19 ASCII digits) or ``check_digit`` (the Luhn digit, as
    ``stdnum.luhn`` computes it), or None. The one card check: :func:`bankcard_is_valid` and the quality
    rule (:mod:`citygov.quality.registry.bankcard`) ask it."""
    if not (16 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return "format"
    return None if luhn.is_valid(digits) else "check_digit"


def bankcard_is_valid(value: object) -> bool:
    """A bank card number: 16 to 19 digits (spaces or hyphens between groups allowed) with a valid Luhn
    check digit (ISO/IEC 7812, as ``stdnum.luhn`` computes it)."""
    return card_number_defect(_card_digits(_text(value))) is None


# --- personal names ------------------------------------------------------------------------------------

COMMON_SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常葛单季伍仲项殷耿倪蒲聂齐邢柏庞费祁卞包左房鲁申柯翟牛颜管穆温景施祝桑卜"
) + ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐")
"""Surnames used to recognise a personal-name column (and by the demo city to make names)."""

_SINGLE_SURNAMES = frozenset(s for s in COMMON_SURNAMES if len(s) == 1)
_DOUBLE_SURNAMES = frozenset(s for s in COMMON_SURNAMES if len(s) == 2)
_HAN_RE = re.compile(r"^[\u4e00-\u9fff]+(·[\u4e00-\u9fff]+)?$")
# Endings that make a short Han string a place, an organisation or a category rather than a person.
_NOT_NAME_ENDINGS = frozenset("省市区县镇乡村街路道巷号局委办厅院所站司处科队会社校园馆店厂场中心类型级")


def _looks_like_name(text: str) -> bool:
    if not 2 <= len(text) <= 5 or not _HAN_RE.match(text) or text[-1] in _NOT_NAME_ENDINGS:
        return False
    if text[:2] in _DOUBLE_SURNAMES:
        return len(text) >= 3
    return text[0] in _SINGLE_SURNAMES and len(text) <= 4


# --- masking -------------------------------------------------------------------------------------------

MASK_KINDS = ("ric", "mobile", "name", "uscc", "birthdate", "plate", "bankcard", "redact", "none")
"""Kinds :func:`mask_value` knows; ``none`` leaves the value as it is."""


def mask_ric(value: str) -> str:
    """Keep the first 6 and last 4 characters of an ID number: ``320706********1234``."""
    text = value.strip()
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_uscc(value: str) -> str:
    """Keep the first 6 and last 4 characters of a credit code: ``913207********123X``."""
    return mask_ric(value)


def mask_mobile(value: str) -> str:
    """Keep the first 3 and last 4 digits of a mobile number: ``138****8000``."""
    text = value.strip()
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_name(value: str) -> str:
    """Keep the first character of a name: ``张**``."""
    text = value.strip()
    return text[:1] + "*" * (len(text) - 1) if len(text) > 1 else "*" * len(text)


def mask_birthdate(value: str) -> str:
    """Keep the year of a date: ``1986-**-**`` (a birth date next to a masked ID would unmask it)."""
    text = value.strip()
    return text[:4] + re.sub(r"[0-9]", "*", text[4:]) if len(text) > 4 else "*" * len(text)


def mask_plate(value: str) -> str:
    """Keep the province, the issuing letter and the last character of a plate: ``苏G****5``."""
    text = value.strip()
    head = 3 if len(text) > 2 and text[2] in "·・.- " else 2
    if len(text) <= head + 1:
        return text[:1] + "*" * (len(text) - 1)
    return text[:head] + "*" * (len(text) - head - 1) + text[-1]


def mask_bankcard(value: str) -> str:
    """Keep the issuer's first 6 and the last 4 digits of a card number: ``622202*********0123``."""
    digits = _card_digits(value)
    if len(digits) <= 10:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def _redact(value: str) -> str:
    return "***" if value.strip() else value


_MASKERS = {
    "ric": mask_ric,
    "mobile": mask_mobile,
    "name": mask_name,
    "uscc": mask_uscc,
    "birthdate": mask_birthdate,
    "plate": mask_plate,
    "bankcard": mask_bankcard,
    "redact": _redact,
}


def mask_value(value: object, kind: str | None) -> object:
    """Mask ``value`` for display by its kind (see :data:`MASK_KINDS`): a masked string; None (and pandas'
    NaN) becomes None; with no kind (or ``none``) the value is returned as it is.

    The one masking rule of the project: quality results, backflow quarantine evidence and dispute
    evidence all go through it, so a credit code is masked the same way wherever it is shown.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind is None or kind == "none":
        return value
    masker = _MASKERS.get(kind)
    if masker is None:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    return masker(_text(value))


_USCC_CHARS = "0-9A-HJ-NPQRTUWXY"
RIC_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9])")
"""An ID number inside text; found even when glued to letters (sfzhm320706…): only digits bound it."""
USCC_IN_TEXT = re.compile(
    rf"(?<![0-9A-Za-z])([{_USCC_CHARS}]{{2}}[0-9]{{6}}[{_USCC_CHARS}]{{10}})(?![0-9A-Za-z])"
)
"""A credit-code-shaped token inside text."""
MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?<![0-9]\.)(1[3-9][0-9]{9})(?![0-9])(?!\.[0-9])")
"""A mobile number inside text; not the digits of a decimal number (0.18334850409, a duration in a log)."""
PLATE_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9])({_PLATE_BODY})(?![A-Za-z0-9])")
"""A number plate inside text."""
BANKCARD_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9A-Za-z]-)([0-9]{16,19}|[0-9]{4}(?:[ \-][0-9]{4}){3}(?:[ \-]?[0-9]{1,3})?)(?![0-9A-Za-z])"
)
"""A card-number-shaped run of digits inside text (masked only when its Luhn digit is right). Not part of a
longer Latin token: the hyphenated groups of a UUID (``0198ab12-2054-7751-8789-0387c0ffee12``, as in task
logs and run ids) are not a card number."""


_HEX = frozenset("0123456789abcdefABCDEF")


def in_hex_token(m: re.Match[str]) -> bool:
    """Whether a match lies inside a hexadecimal identifier (a UUID's group, a fingerprint, a hash: at least
    12 hex characters with a letter a–f among them): such digits are not an ID or mobile number."""
    text, start, end = m.string, m.start(1), m.end(1)
    while start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isascii() and text[end].isalnum():
        end += 1
    token = text[start:end]
    return len(token) >= 12 and set(token) <= _HEX and not token.isdigit()


def mask_text(text: str) -> str:
    """``text`` with every ID number, credit code, mobile number, number plate and bank card number (by
    its Luhn digit) in it masked (free text, messages, JSON dumps). Names inside free text cannot be
    recognised reliably and are left as they are; digits inside a hexadecimal identifier
    (:func:`in_hex_token`) are not personal data."""
    text = RIC_IN_TEXT.sub(lambda m: m.group(1) if in_hex_token(m) else mask_ric(m.group(1)), text)
    text = USCC_IN_TEXT.sub(lambda m: mask_uscc(m.group(1)), text)
    text = BANKCARD_IN_TEXT.sub(
        lambda m: mask_bankcard(m.group(1)) if bankcard_is_valid(m.group(1)) else m.group(1), text
    )
    text = MOBILE_IN_TEXT.sub(lambda m: m.group(1) if in_hex_token(m) else mask_mobile(m.group(1)), text)
    return PLATE_IN_TEXT.sub(lambda m: mask_plate(m.group(1)), text)


def scrub(value: Any) -> Any:
    """``value`` with :func:`mask_text` applied to every string in it, dicts, lists and tuples walked:
    the one masker for whatever a person will see (quality results, a finding's or a dispute's
    evidence, log messages). Returns new containers and never changes ``value`` itself (it may be an
    ORM row's JSON); keys are kept as they are; anything else passes through."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    return value


# --- recognising a column ------------------------------------------------------------------------------

DETECT_THRESHOLD = 0.8
"""Share of a column's non-empty sample that must match for :func:`detect_kind` to name its kind."""


def detect_kind(values: Iterable[object], *, threshold: float = DETECT_THRESHOLD) -> str | None:
    """Guess what a column sample holds: ``"ric"`` (ID numbers), ``"uscc"`` (credit codes),
    ``"bankcard"``, ``"mobile"``, ``"plate"`` (number plates) or ``"name"`` (Chinese personal names), or
    None.

    A kind is named when at least ``threshold`` (default :data:`DETECT_THRESHOLD`) of the non-empty
    values match it. ID
    numbers are recognised by shape (so a dirty ID column is still an ID column), credit codes by their
    check character (an all-digit ID could otherwise pass for one).
    """
    sample = [t for t in (_text(v) for v in values if v is not None) if t]
    if not sample:
        return None
    tests = (
        ("ric", {15, 18}, lambda t: bool(_RIC_SHAPE_RE.match(t) or _RIC15_SHAPE_RE.match(t))),
        ("uscc", {18}, uscc_is_valid),
        ("bankcard", {16, 17, 18, 19}, bankcard_is_valid),
        ("mobile", {11}, lambda t: bool(MOBILE_RE.match(t))),
        ("plate", {7, 8, 9}, lambda t: bool(PLATE_RE.match(t))),
        ("name", {2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, _looks_like_name),
    )
    needed = threshold * len(sample)
    for kind, lengths, test in tests:
        # Length alone rules most columns out before the costlier pattern and checksum tests run.
        candidates = [t for t in sample if len(t) in lengths]
        if len(candidates) < needed:
            continue
        if sum(1 for t in candidates if test(t)) >= needed:
            return kind  # kinds are tried most specific first; the lengths barely overlap
    return None


def _text(value: object) -> str:
    """A cell as text: integral floats (a mobile number read by pandas) lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() if value is not None else ""


# --- record keys ---------------------------------------------------------------------------------------

_KEY_RIC_SHAPE = re.compile(r"^(\d{17}[\dXx]|\d{15})$")


def key_text(value: object) -> str:
    """One part of a record key as text, the way it is hashed and shown: None is empty, an integral
    float loses its ``.0``, a date is ISO, an ID number's ``x`` is upper-cased (as the standard writes it)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    text = str(value).strip()
    return text.upper() if _KEY_RIC_SHAPE.match(text) else text


def _mask_generic(part: str) -> str:
    if len(part) <= 2:
        return "*" * len(part)
    return part[0] + "*" * (len(part) - 2) + part[-1]


def mask_key_part(part: object, kind: str | None) -> str:
    """One key part for display: by its column's mask kind; with none known, by the kind it looks like;
    else the generic mask (first and last character). ``none`` (a steward's decision in the suite) shows
    it, identifiers still masked."""
    text = key_text(part)
    if kind == "none":
        return mask_text(text)
    kind = kind or detect_kind([text])
    if kind:
        return str(mask_value(text, kind))
    masked = mask_text(text)
    return masked if masked != text else _mask_generic(text)


KEY_SEPARATOR = ", "
"""Between the masked parts of a compound record key."""


def mask_key(parts: Sequence[object], kinds: Sequence[str | None] = ()) -> str:
    """A record key's masked display form: each part by the mask kind of its key column, joined by
    ``, `` (what the dispute queue shows for a key and the quality samples show for a failing row)."""
    return KEY_SEPARATOR.join(mask_key_part(p, kinds[i] if i < len(kinds) else None) for i, p in enumerate(parts))
