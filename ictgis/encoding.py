"""Detect and repair Vietnamese text that was mis-decoded from a legacy encoding.

Old Vietnamese shapefiles store their DBF text in one of three legacy encodings. Read as Latin-1 (or
Windows-1252, they differ only in bytes 0x80-0x9F) they turn into recognisable mojibake:

TCVN3 (ABC, TCVN 5712:1993 table VN3)
    One byte per letter: ASCII plus the Vietnamese letters in 0xA0-0xFF, so "Điện Biên Phủ" reads as
    "§iÖn Biªn Phñ" and ư (0xAD) is an invisible soft hyphen. VN3 has upper-case letters only for
    Ă Â Ê Ô Ơ Ư Đ and for 16 letters with circumflex or breve and a tone (Ằ Ẳ Ẵ Ắ Ầ Ẩ Ẫ Ấ Ề Ể Ễ Ế Ồ Ổ Ỗ Ố);
    the other 44 upper-case toned letters (À, Ệ, Ở, Ú, Ỵ, ...) do not exist: ABC users typed the lower-case
    letter or used an all-capitals font. The full table VN1 puts 32 of them in 0x80-0x9F and 12 (Ú Ụ Ừ Ử Ữ Ứ
    Ự Ỳ Ỷ Ỹ Ý Ỵ) on top of C0 control codes. :func:`decode_tcvn3` also accepts the 0x80-0x9F letters (it
    agrees with glibc ``iconv -f TCVN5712-1`` on every byte 0x80-0xFF) but keeps 0x00-0x7F as ASCII;
    :func:`encode_tcvn3` writes VN3 unless asked for ``vn1=True`` or ``lowercase_fallback=True``.
VNI (VNI-Windows)
    An ASCII base letter followed by a mark byte: "Ñieän Bieân" is "Điện Biên" (ñ = đ, â = circumflex,
    ä = circumflex + dot below). ơ, ư, đ and the toned i/ỵ are single bytes. Python has no codec.
cp1258 (Windows Vietnamese)
    Base letters (with circumflex, breve or horn) followed by combining tone bytes 0xCC 0xEC 0xD2 0xDE 0xF2.
    GDAL loses the last character of some cp1258 strings, so the project reads such DBFs as Latin-1 and
    repairs them with ``NFC(s.encode("latin1").decode("cp1258"))``.

Approach. A mis-decoded string is mapped back to its bytes (per character: Latin-1, or the cp1252 glyph of
0x80-0x9F), decoded with each legacy table and judged with a Vietnamese spelling checker: words (runs of
letters between spaces, ASCII punctuation and digits) that contain non-ASCII letters must be one valid
syllable: initial + rhyme from the table of Vietnamese rhymes, at most one tone, on the main vowel, stop finals
only with sắc/nặng, gh/ngh only before i/e/ê, one case pattern. A value *votes* for an encoding when decoding
strictly lowers its number of invalid words; a column's encoding is the one with most votes. Real Unicode is
safe: text with characters outside Latin-1/cp1252 (ư, ờ, ệ, ...) cannot be legacy bytes, ASCII is the same in
every encoding, and Latin-1 Vietnamese such as "Pú Nhi" or "Chà Cang" is already valid, so decoding cannot
improve it. Some legacy values read as valid Vietnamese both ways (TCVN3 "Búng" reads "Bóng" in Latin-1,
VNI "Hồ" reads "Hoà"); they are repaired only when the whole column is legacy (no value with real Unicode
letters, none made worse, most values voting) or when the caller names the encoding.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENCODINGS",
    "decode_cp1258",
    "decode_tcvn3",
    "decode_vni",
    "detect",
    "encode_cp1258",
    "encode_tcvn3",
    "encode_vni",
    "repair",
    "repair_values",
    "to_nfc",
]

log = logging.getLogger(__name__)

ENCODINGS: tuple[str, ...] = ("tcvn3", "vni", "cp1258")
"""Names of the legacy encodings that :func:`detect` can report."""

# Vietnamese tone marks (combining) in the order sắc, huyền, hỏi, ngã, nặng.
_TONES = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
_STOP_TONES = {"\u0301", "\u0323"}
_TONE_COST = dict(zip(_TONES, (1, 1, 2, 3, 1), strict=True))  # hỏi and ngã are the rarer tones


def to_nfc(text: str) -> str:
    """Return `text` in Unicode normal form C (precomposed letters such as "ệ" as one code point)."""
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------------------------- TCVN3
# Bytes 0x80-0xFF of TCVN 5712:1993 VN1; 0x80-0x9F (upper-case, VN1 only) are absent from VN3 / ABC.
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80 (VN1 only)
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90 (VN1 only)
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0: combining huyền hỏi ngã sắc nặng, then letters
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)
_TCVN3_DECODE = tuple(chr(b) for b in range(128)) + tuple(_TCVN3_HIGH)
_TCVN3_ENCODE = {c: 0xA0 + i for i, c in enumerate(_TCVN3_HIGH[32:])}
_TCVN3_ENCODE_VN1 = {**_TCVN3_ENCODE, **{c: 0x80 + i for i, c in enumerate(_TCVN3_HIGH[:32])}}


def encode_tcvn3(text: str, *, vn1: bool = False, lowercase_fallback: bool = False) -> bytes:
    """Encode `text` in TCVN3 (ABC, table VN3).

    Parameters
    ----------
    text : str
        Unicode text (any normal form).
    vn1 : bool, default False
        Also use the VN1 upper-case letters in bytes 0x80-0x9F (not displayed by ABC fonts).
    lowercase_fallback : bool, default False
        Write an upper-case letter that the table lacks as its lower-case letter (ABC practice).

    Returns
    -------
    bytes
        The TCVN3 bytes.

    Raises
    ------
    ValueError
        If a character cannot be represented (e.g. "Ệ" in VN3, "Ú" even in VN1, or a non-Vietnamese letter).
    """
    table = _TCVN3_ENCODE_VN1 if vn1 else _TCVN3_ENCODE
    out = bytearray()
    for i, ch in enumerate(to_nfc(text)):
        if ord(ch) < 128:
            out.append(ord(ch))
        elif ch in table:
            out.append(table[ch])
        elif lowercase_fallback and ch.lower() in table:
            out.append(table[ch.lower()])
        else:
            raise ValueError(f"TCVN3 cannot represent {ch!r} (U+{ord(ch):04X}) at position {i} of {text!r}")
    return bytes(out)


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 bytes (VN3, plus the VN1 upper-case letters in 0x80-0x9F) to NFC text.

    Parameters
    ----------
    data : bytes
        TCVN3 bytes; 0x00-0x7F are ASCII.

    Returns
    -------
    str
        The text, NFC (combining tone bytes 0xB0-0xB4 are composed with the preceding letter).
    """
    return to_nfc("".join(_TCVN3_DECODE[b] for b in data))


# ----------------------------------------------------------------------------------------------- VNI
# Lower-case VNI mark bytes; the upper-case letters use the same bytes upper-cased (Latin-1 Â Ê Ù ...).
_VNI_TONE = dict(zip(("", *_TONES), ("", "ù", "ø", "û", "õ", "ï"), strict=True))
_VNI_CIRCUMFLEX = dict(zip(("", *_TONES), ("â", "á", "à", "å", "ã", "ä"), strict=True))
_VNI_BREVE = dict(zip(("", *_TONES), ("ê", "é", "è", "ú", "ü", "ë"), strict=True))
_VNI_I = dict(zip(("", *_TONES), ("i", "í", "ì", "æ", "ó", "ò"), strict=True))  # toned i are single bytes


def _build_vni() -> dict[str, str]:
    """Return the map from each Vietnamese letter to its VNI-Windows spelling (as Latin-1 text)."""
    low: dict[str, str] = {"đ": "ñ"}
    for tone in ("", *_TONES):
        for base in "aeouy":
            low[to_nfc(base + tone)] = base + _VNI_TONE[tone]
        for base in "aeo":
            low[to_nfc(base + "\u0302" + tone)] = base + _VNI_CIRCUMFLEX[tone]
        low[to_nfc("a\u0306" + tone)] = "a" + _VNI_BREVE[tone]
        low[to_nfc("o\u031b" + tone)] = "ô" + _VNI_TONE[tone]  # ơ is the single byte ô
        low[to_nfc("u\u031b" + tone)] = "ö" + _VNI_TONE[tone]  # ư is the single byte ö
        low[to_nfc("i" + tone)] = _VNI_I[tone]
    low["ỵ"] = "î"  # y with dot below is a single byte
    return {**low, **{k.upper(): v.upper() for k, v in low.items()}}


_VNI_ENCODE = {k: v for k, v in _build_vni().items() if not k.isascii()}
_VNI_DECODE = {v: k for k, v in _VNI_ENCODE.items()}


def encode_vni(text: str) -> bytes:
    """Encode `text` in VNI-Windows.

    Parameters
    ----------
    text : str
        Unicode text (any normal form).

    Returns
    -------
    bytes
        The VNI bytes (ASCII letters followed by mark bytes).

    Raises
    ------
    ValueError
        If a character is neither ASCII nor a Vietnamese letter.
    """
    parts = []
    for i, ch in enumerate(to_nfc(text)):
        if ord(ch) < 128:
            parts.append(ch)
        elif ch in _VNI_ENCODE:
            parts.append(_VNI_ENCODE[ch])
        else:
            raise ValueError(f"VNI cannot represent {ch!r} (U+{ord(ch):04X}) at position {i} of {text!r}")
    return "".join(parts).encode("latin1")


def decode_vni(data: bytes) -> str:
    """Decode VNI-Windows bytes to NFC text.

    Parameters
    ----------
    data : bytes
        VNI bytes. A mark byte that does not follow a letter it can modify is kept as its Latin-1 character.

    Returns
    -------
    str
        The text, NFC.
    """
    s = data.decode("latin1")
    out, i = [], 0
    while i < len(s):
        if s[i : i + 2] in _VNI_DECODE:
            out.append(_VNI_DECODE[s[i : i + 2]])
            i += 2
        else:
            out.append(_VNI_DECODE.get(s[i], s[i]))
            i += 1
    return to_nfc("".join(out))


# -------------------------------------------------------------------------------------------- cp1258
_CP1258_TONE_BYTES = dict(zip(_TONES, (0xEC, 0xCC, 0xD2, 0xDE, 0xF2), strict=True))
_CP1258_DECODE = tuple(bytes([b]).decode("cp1258", errors="replace").replace("\ufffd", chr(b)) for b in range(256))


def encode_cp1258(text: str) -> bytes:
    """Encode `text` in Windows-1258, splitting tones the code page lacks into combining tone bytes.

    Parameters
    ----------
    text : str
        Unicode text (any normal form).

    Returns
    -------
    bytes
        The cp1258 bytes: precomposed where cp1258 has the letter (à, é, ơ, ...), otherwise the letter with
        its circumflex, breve or horn followed by a tone byte (ờ = 0xF5 0xCC).

    Raises
    ------
    ValueError
        If a character cannot be represented.
    """
    out = bytearray()
    for i, ch in enumerate(to_nfc(text)):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        nfd = unicodedata.normalize("NFD", ch)
        tones = [m for m in nfd if m in _CP1258_TONE_BYTES]
        base = to_nfc("".join(m for m in nfd if m not in _CP1258_TONE_BYTES))
        try:
            out += base.encode("cp1258") + bytes(_CP1258_TONE_BYTES[t] for t in tones)
        except UnicodeEncodeError:
            raise ValueError(f"cp1258 cannot represent {ch!r} (U+{ord(ch):04X}) at position {i} of {text!r}") from None
    return bytes(out)


def decode_cp1258(data: bytes) -> str:
    """Decode Windows-1258 bytes to NFC text (bytes undefined in cp1258 are read as Latin-1)."""
    return to_nfc("".join(_CP1258_DECODE[b] for b in data))


_DECODERS: dict[str, Callable[[bytes], str]] = {"tcvn3": decode_tcvn3, "vni": decode_vni, "cp1258": decode_cp1258}

# ------------------------------------------------------------------------------------- spell checker
_CP1252_BYTE = {bytes([b]).decode("cp1252"): b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _to_bytes(text: str) -> bytes | None:
    """Map mis-decoded text back to bytes (Latin-1 or cp1252 glyphs); None if it holds other characters."""
    out = bytearray()
    for ch in text:
        if ord(ch) < 256:
            out.append(ord(ch))
        elif ch in _CP1252_BYTE:
            out.append(_CP1252_BYTE[ch])
        else:
            return None
    return bytes(out)


_RHYMES_TEXT = """
a ac ach ai am an ang anh ao ap at au ay ăc ăm ăn ăng ăp ăt âc âm ân âng âp ât âu ây
e ec em en eng eo ep et ê êch êm ên ênh êp êt êu i ia ich im in inh ip it iu
iêc iêm iên iêng iêp iêt iêu o oc oi om on ong ooc oong op ot
oa oac oach oai oam oan oang oanh oao oap oat oay oăc oăm oăn oăng oăt oe oem oen oeo oet
ô ôc ôi ôm ôn ông ôp ôt ơ ơc ơi ơm ơn ơp ơt u ua uc ui um un ung up ut
uân uâng uât uây uê uêch uênh uôc uôi uôm uôn uông uôt uơ ươc ươi ươm ươn ương ươp ươt ươu
uy uya uych uyên uyêt uyn uynh uyp uyt uyu ư ưa ưc ưi ưm ưn ưng ưt ưu y yêm yên yêng yêt yêu
"""
_RHYMES = frozenset(_RHYMES_TEXT.split())
_RHYMES |= {r[:-1] + "k" for r in _RHYMES if r.endswith("c")}  # Đắk, Lắk in Central Highland names
_INITIALS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "th", "tr", "qu", "kr", "dr", *"bcdđghklmnprstvx", "")
_ALPHABET = frozenset("abcdeghiklmnopqrstuvxyăâêôơưđ")
_VOWELS = "aăâeêioôơuưy"
_SEPARATORS = re.compile(r"[\s\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f0-9]+")


def _tone_placed(rhyme: str, pos: int) -> bool:
    """Return True when a tone on letter `pos` of `rhyme` sits on its main vowel (old or new style)."""
    n = len(rhyme) - len(rhyme.lstrip(_VOWELS))
    if not 0 <= pos < n:
        return False
    closed = n < len(rhyme)
    if n == 1:
        return True
    if n == 3:  # uyên | iêu, oai, uôi, ươi, uây ...
        return pos == (2 if closed else 1)
    if closed:  # oan, iêt, uông, ương ...
        return pos == 1
    if rhyme in ("oa", "oe", "uy"):  # hòa / hoà
        return True
    return pos == (1 if rhyme[1] in "êơ" else 0)  # thuế, thuở | mái, múa, mưa, túi ...


def _rhyme_ok(initial: str, rhyme: str, tone: str, pos: int) -> bool:
    """Return True when `initial` + `rhyme` (toneless) with `tone` on rhyme letter `pos` is well formed."""
    if initial == "gi" and rhyme not in _RHYMES:
        rhyme, pos = "i" + rhyme, pos + 1  # gì, giếng: the i of gi is the vowel
    ok = rhyme in _RHYMES if initial != "qu" else bool(rhyme) and ("u" + rhyme in _RHYMES or "o" + rhyme in _RHYMES)
    if not ok or (tone and not _tone_placed(rhyme, pos)):
        return False
    if initial in ("gh", "ngh") and rhyme[0] not in "ieê":  # k is free in minority names: Kạn, Kon Tum
        return False
    if initial in ("c", "g", "ng") and rhyme[0] in "ieê":
        return False
    if rhyme.startswith("oo") and tone not in ("", *_STOP_TONES):  # noọng, soóc: loan words, level tones
        return False
    return not (rhyme.endswith(("c", "ch", "p", "t")) and tone not in _STOP_TONES)


def _is_syllable(word: str) -> bool:
    """Return True when `word` (letters only) is one written Vietnamese syllable, in a sensible case."""
    if not (word.islower() or word.istitle() or word.isupper()):
        return False
    tones, pos, bare = [], -1, []
    for i, ch in enumerate(to_nfc(word.lower())):
        if unicodedata.combining(ch):
            return False  # a mark that did not compose with a letter
        nfd = unicodedata.normalize("NFD", ch)
        marks = [m for m in nfd if m in _TONES]
        tones += marks
        pos = i if marks else pos
        bare.append(to_nfc("".join(m for m in nfd if m not in _TONES)))
    if len(tones) > 1 or not set(bare) <= _ALPHABET:
        return False
    tone, word = (tones[0] if tones else ""), "".join(bare)
    return any(word.startswith(ini) and _rhyme_ok(ini, word[len(ini) :], tone, pos - len(ini)) for ini in _INITIALS)


def _badness(text: str) -> tuple[int, int]:
    """Return (invalid, valid) counts of the words of `text` that contain non-ASCII letters."""
    bad = good = 0
    for word in _SEPARATORS.split(text):
        if word.isascii() or not any(c.isalpha() for c in word):
            continue  # ASCII and symbol-only words are the same in every reading
        if _is_syllable(word):
            good += 1
        else:
            bad += 1
    return bad, good


# ----------------------------------------------------------------------------------------- detection
@dataclass
class _Value:
    """Verdict on one value: ``kind`` is "ascii", "unicode" (not legacy bytes) or "bytes"."""

    text: str
    kind: str
    better: dict[str, str] = field(default_factory=dict)  # encoding -> repaired text, strictly better
    gain: dict[str, int] = field(default_factory=dict)
    tie: dict[str, str] = field(default_factory=dict)  # changed, but no better and no worse
    worse: set[str] = field(default_factory=set)


def _analyse(value: str) -> _Value:
    """Decode `value` with each legacy table and compare the spelling of the results."""
    text = to_nfc(value)
    if text.isascii():
        return _Value(text, "ascii")
    data = _to_bytes(text)
    if data is None:
        return _Value(text, "unicode")
    verdict = _Value(text, "bytes")
    bad0, _ = _badness(text)
    for enc, decode in _DECODERS.items():
        dec = decode(data)
        if dec == text:
            continue
        bad, good = _badness(dec)
        if bad < bad0 and good > bad:
            verdict.better[enc] = dec
            verdict.gain[enc] = bad0 - bad
        elif bad <= bad0:
            verdict.tie[enc] = dec
        else:
            verdict.worse.add(enc)
    return verdict


def _vote(verdicts: list[_Value]) -> str | None:
    """Return the encoding that most values vote for, or None without votes or on a tie."""
    score = {
        enc: (sum(enc in v.better for v in verdicts), sum(v.gain.get(enc, 0) for v in verdicts)) for enc in ENCODINGS
    }
    ranked = sorted(score.items(), key=lambda kv: kv[1], reverse=True)
    log.debug("encoding votes (values, invalid words fixed): %s", score)
    if ranked[0][1][0] == 0 or ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _best_of(verdict: _Value) -> str | None:
    """Return the encoding that improves a value most: most words fixed, then rarer tones, then composition."""

    def key(enc: str) -> tuple[int, int, int]:
        dec = verdict.better[enc]
        cost = sum(_TONE_COST.get(c, 0) for c in unicodedata.normalize("NFD", dec))
        return -verdict.gain[enc], cost, len(dec)

    ranked = sorted(verdict.better, key=key)
    return ranked[0] if len(ranked) == 1 or key(ranked[0]) < key(ranked[1]) else None


def _is_pure(verdicts: list[_Value], enc: str) -> bool:
    """Return True when the column looks entirely `enc`: no real Unicode, nothing made worse, most voting."""
    legacy = [v for v in verdicts if v.kind == "bytes"]
    votes = sum(enc in v.better for v in legacy)
    return (
        all(v.kind != "unicode" for v in verdicts)
        and all(enc not in v.worse for v in legacy)
        and votes >= 3
        and 2 * votes >= len(legacy)
    )


def _analyse_all(values: Iterable[Any]) -> dict[str, _Value]:
    """Analyse each distinct string of `values` once (columns repeat values); non-strings are skipped."""
    return {v: _analyse(v) for v in dict.fromkeys(v for v in values if isinstance(v, str))}


def detect(values: Iterable[str]) -> str | None:
    """Say from which legacy encoding a column of strings was mis-decoded.

    Parameters
    ----------
    values : iterable of str
        The strings of one column, or a list of field names. Non-strings (None, NaN) are ignored.

    Returns
    -------
    str or None
        "tcvn3", "vni" or "cp1258" when values decode to valid Vietnamese that they were not before;
        None for real Unicode, plain ASCII or when the evidence is tied.
    """
    return _vote(list(_analyse_all(values).values()))


_ALIASES = {"abc": "tcvn3", "tcvn": "tcvn3", "tcvn57121": "tcvn3", "vniwindows": "vni", "windows1258": "cp1258"}


def _check_encoding(encoding: str | None) -> str | None:
    if encoding is None:
        return None
    enc = encoding.lower().replace("-", "").replace("_", "")
    enc = _ALIASES.get(enc, enc)
    if enc not in ENCODINGS:
        raise ValueError(f"unknown legacy encoding {encoding!r}; expected one of {ENCODINGS} or None")
    return enc


def repair_values(values: Iterable[Any], *, encoding: str | None = None) -> tuple[list[Any], str | None]:
    """Repair a column of mis-decoded strings.

    Parameters
    ----------
    values : iterable of str
        The column's values; non-strings (None, NaN) are returned unchanged.
    encoding : {"tcvn3", "vni", "cp1258"} or None, default None
        The legacy encoding, or None to detect it on the whole column. A named encoding also repairs values
        that read as valid Vietnamese both ways; it never touches values that decoding makes worse or that hold
        real Unicode letters.

    Returns
    -------
    repaired : list
        The values, NFC; unchanged when there is nothing to repair.
    encoding : str or None
        The encoding given or detected.

    Raises
    ------
    ValueError
        If `encoding` is not a known legacy encoding.
    """
    items = list(values)
    forced = _check_encoding(encoding)
    verdicts = _analyse_all(items)
    enc = forced or _vote(list(verdicts.values()))
    take_ties = forced is not None or (enc is not None and _is_pure(list(verdicts.values()), enc))
    repaired: dict[str, str] = {}
    for key, v in verdicts.items():
        if enc in v.better:
            new = v.better[enc]
        elif forced is None and v.better and (best := _best_of(v)):
            new = v.better[best]  # another legacy encoding, a mixed column or a lone string
        elif take_ties and enc in v.tie:
            new = v.tie[enc]
        else:
            new = v.text
        repaired[key] = new
    fixed = sum(new != verdicts[key].text for key, new in repaired.items())
    if fixed:
        log.info("repaired %d distinct values mis-decoded from %s", fixed, enc or "mixed encodings")
    return [repaired[v] if isinstance(v, str) else v for v in items], enc


def repair(text: str, *, encoding: str | None = None) -> str:
    """Repair one mis-decoded string.

    Parameters
    ----------
    text : str
        A string read with the wrong codec, e.g. "§iÖn Biªn Phñ" (TCVN3) or "Ñieän Bieân" (VNI).
    encoding : {"tcvn3", "vni", "cp1258"} or None, default None
        The legacy encoding, or None to detect it (a lone string is repaired only when decoding clearly
        improves it, so real Unicode such as "Pú Nhi" is kept).

    Returns
    -------
    str
        The repaired text, NFC; `text` in NFC when there is nothing to repair.

    Raises
    ------
    ValueError
        If `encoding` is not a known legacy encoding.
    """
    return repair_values([text], encoding=encoding)[0][0]
