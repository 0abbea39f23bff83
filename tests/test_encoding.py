from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

from ictgis.encoding import (
    decode_cp1258,
    decode_tcvn3,
    decode_vni,
    detect,
    encode_cp1258,
    encode_tcvn3,
    encode_vni,
    repair,
    repair_values,
    to_nfc,
)

TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
LOWER = [to_nfc(b + t) for b in "aăâeêioôơuưy" for t in TONES] + ["đ"]
LETTERS = LOWER + [c.upper() for c in LOWER]  # 146 letters, 134 of them non-ASCII
NON_ASCII = [c for c in LETTERS if not c.isascii()]

# The only upper-case non-ASCII letters TCVN3 (ABC, VN3) has.
TCVN3_UPPER = set("ĂÂÊÔƠƯĐẰẲẴẮẦẨẪẤỀỂỄẾỒỔỖỐ")
VN1_ONLY_IN_C0 = set("ÚỤỪỬỮỨỰỲỶỸÝỴ")

COMMUNES = [
    "Mường Nhé", "Chà Cang", "Nà Hỳ", "Sín Thầu", "Pa Ham", "Huổi Lèng", "Tủa Thàng", "Xá Nhè", "Mường Ảng",
    "Búng Lao", "Ẳng Nưa", "Na Tông", "Thanh Xương", "Noọng Hẹt", "Pom Lót", "Keo Lôm", "Phình Giàng",
    "Luân Giói", "Chiềng Sinh", "Quài Tở", "Mường Thanh", "Tủa Chùa", "Pú Nhi", "Nà Tấu",
]  # fmt: skip
REAL = [
    "Mường Thanh", "Sín Thầu", "Điện Biên Phủ", "Na Son", "Tủa Chùa", "Pú Nhi", "Noong Bua", "Him Lam",
    "Bản Phủ", "Nà Tấu", "Chà Cang", "Búng Lao", "Pom Lót", "Luân Giói", "Keo Lôm", "Xá Nhè", "QL279",
    "Main road", "Café", "12.5", "BTS-0042", "", "Ea H’leo", "Na Son – Him Lam", "Phình Giàng",
]  # fmt: skip


def latin1(data: bytes) -> str:
    return data.decode("latin1")


# ------------------------------------------------------------------------------------------------ TCVN3
def test_tcvn3_known_answers():
    assert latin1(encode_tcvn3("Điện Biên Phủ")) == "§iÖn Biªn Phñ"
    assert encode_tcvn3("Mường Thanh") == b"M\xad\xeang Thanh"
    assert repair(latin1(encode_tcvn3("Mường Thanh"))) == "Mường Thanh"
    assert repair("M\xadêng Thanh") == "Mường Thanh"
    assert repair("§iÖn Biªn Phñ") == "Điện Biên Phủ"
    assert decode_tcvn3(b"\xa7i\xd6n Bi\xaan Ph\xf1") == "Điện Biên Phủ"


def test_tcvn3_combining_tone_bytes_compose():
    assert decode_tcvn3(b"a\xb3") == "á"  # 0xB3 is a combining acute
    assert decode_tcvn3(b"\xad\xb0") == "ừ"


@pytest.mark.skipif(shutil.which("iconv") is None, reason="needs glibc iconv")
def test_tcvn3_table_matches_glibc_iconv():
    for b in range(256):
        run = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=bytes([b]), capture_output=True)
        if run.returncode != 0:
            pytest.skip("iconv has no TCVN5712-1")
        ref = to_nfc(run.stdout.decode("utf-8"))
        if b < 0x80:  # VN1 puts 12 upper-case letters on C0 controls; we keep ASCII
            assert decode_tcvn3(bytes([b])) == chr(b)
            assert ref == chr(b) or ref in VN1_ONLY_IN_C0
        else:
            assert decode_tcvn3(bytes([b])) == ref, hex(b)


def test_tcvn3_round_trip_of_all_letters():
    assert len(NON_ASCII) == 134
    supported = [c for c in NON_ASCII if c.islower() or c in TCVN3_UPPER]
    assert len(supported) == 67 + 23
    for c in LETTERS:
        if c.isascii() or c in supported:
            assert decode_tcvn3(encode_tcvn3(c)) == c
        else:
            with pytest.raises(ValueError):
                encode_tcvn3(c)
            assert decode_tcvn3(encode_tcvn3(c, lowercase_fallback=True)) == c.lower()
            if c in VN1_ONLY_IN_C0:
                with pytest.raises(ValueError):
                    encode_tcvn3(c, vn1=True)
            else:
                assert 0x80 <= encode_tcvn3(c, vn1=True)[0] < 0xA0
                assert decode_tcvn3(encode_tcvn3(c, vn1=True)) == c
    encoded = [encode_tcvn3(c) for c in supported]
    assert len(set(encoded)) == len(encoded) and all(len(e) == 1 for e in encoded)


def test_tcvn3_accepts_decomposed_input_and_rejects_others():
    assert encode_tcvn3(unicodedata.normalize("NFD", "Điện Biên Phủ")) == encode_tcvn3("Điện Biên Phủ")
    for bad in ("ñ", "ß", "中", "€"):
        with pytest.raises(ValueError):
            encode_tcvn3(bad)


def test_cp1252_misdecoded_tcvn3_is_repaired():
    text = "Ủy ban nhân dân xã Ẳng Nưa"
    data = encode_tcvn3(text, vn1=True)  # Ủ is 0x9E, which cp1252 shows as "ž"
    assert data[0] == 0x9E
    misread = data.decode("cp1252")
    assert misread.startswith("ž")
    assert repair(misread) == text
    assert repair(latin1(data)) == text
    col = [encode_tcvn3(n, vn1=True, lowercase_fallback=True).decode("cp1252", errors="replace") for n in COMMUNES]
    assert detect(col) == "tcvn3"


# -------------------------------------------------------------------------------------------------- VNI
def test_vni_known_answers():
    assert latin1(encode_vni("Điện Biên")) == "Ñieän Bieân"
    assert repair("Ñieän Bieân") == "Điện Biên"
    assert repair(latin1(encode_vni("Mường Thanh"))) == "Mường Thanh"


@pytest.mark.parametrize(
    ("vni", "text"),
    [
        ("HAØ NOÄI", "HÀ NỘI"),
        ("ÑAÊK LAÊK", "ĐĂK LĂK"),
        ("Vónh Phuùc", "Vĩnh Phúc"),
        ("Thöøa Thieân Hueá", "Thừa Thiên Huế"),
        ("Bình Ñònh", "Bình Định"),
        ("Ñaø Naüng", "Đà Nẵng"),
        ("Quaûng Trò", "Quảng Trị"),
        ("Chæ", "Chỉ"),
        ("Mî", "Mỵ"),
        ("HAÛI DÖÔNG", "HẢI DƯƠNG"),
    ],
)
def test_vni_chart(vni, text):
    assert decode_vni(vni.encode("latin1")) == text
    assert latin1(encode_vni(text)) == vni


def test_vni_round_trip_of_all_letters():
    encoded = {}
    for c in LETTERS:
        data = encode_vni(c)
        assert decode_vni(data) == c
        encoded[data] = c
        if not c.isascii():
            assert data[-1] >= 0xC0  # the letter or its mark is a Latin-1 letter byte
    assert len(encoded) == 146
    text = "".join(LETTERS)
    assert decode_vni(encode_vni(text)) == text


def test_vni_rejects_unknown_and_keeps_stray_marks():
    with pytest.raises(ValueError):
        encode_vni("ñ")
    assert decode_vni("Pú Nhi".encode("latin1")) == "Pú Nhi"  # ù/ú after a consonant is not a mark


# ----------------------------------------------------------------------------------------------- cp1258
def test_cp1258_encoder_splits_tones():
    assert encode_cp1258("ờ") == b"\xf5\xcc"
    assert encode_cp1258("ệ") == b"\xea\xf2"
    assert encode_cp1258("à") == b"\xe0"  # precomposed where cp1258 has it
    for c in LETTERS:
        data = encode_cp1258(c)
        assert to_nfc(data.decode("cp1258")) == c
        assert decode_cp1258(data) == c
    with pytest.raises(ValueError):
        encode_cp1258("中")


def test_cp1258_repair_round_trip():
    for name in [*COMMUNES, "Điện Biên Phủ", "Bản Phủ"]:
        misread = latin1(encode_cp1258(name))
        assert unicodedata.normalize("NFC", misread.encode("latin1").decode("cp1258")) == name
        assert repair(misread, encoding="cp1258") == name
    assert repair(latin1(encode_cp1258("Điện Biên Phủ"))) == "Điện Biên Phủ"


# ------------------------------------------------------------------------------------------- detection
ENCODERS = {
    "tcvn3": lambda s: latin1(encode_tcvn3(s, lowercase_fallback=True)),
    "vni": lambda s: latin1(encode_vni(s)),
    "cp1258": lambda s: latin1(encode_cp1258(s)),
}


def expected_after(encoding: str, name: str) -> str:
    # TCVN3 (ABC) has no "Ả": the legacy file holds "ả", which is what a repair can give back
    return name.replace("Ả", "ả") if encoding == "tcvn3" else name


@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258"])
def test_column_detection_and_repair(encoding):
    column = [ENCODERS[encoding](n) for n in COMMUNES]
    assert detect(column) == encoding
    repaired, found = repair_values(column)
    assert found == encoding
    assert repaired == [expected_after(encoding, n) for n in COMMUNES]


@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258"])
def test_column_with_numbers_and_missing_values(encoding):
    column = [ENCODERS[encoding](n) for n in COMMUNES[:8]] + ["QL279", "12", None, float("nan")]
    repaired, found = repair_values(column)
    assert found == encoding
    assert repaired[:8] == [expected_after(encoding, n) for n in COMMUNES[:8]]
    assert repaired[8:10] == ["QL279", "12"] and repaired[10] is None and repaired[11] != repaired[11]


def test_vni_field_names():
    fields = [latin1(encode_vni(f)) for f in ("TÊN_XÃ", "DÂN_SỐ", "DIỆN_TÍCH", "MA_XA", "HUYỆN")]
    assert detect(fields) == "vni"
    assert repair_values(fields)[0] == ["TÊN_XÃ", "DÂN_SỐ", "DIỆN_TÍCH", "MA_XA", "HUYỆN"]


def test_real_unicode_and_ascii_are_never_repaired():
    assert detect(REAL) is None
    assert repair_values(REAL) == (REAL, None)
    assert detect(COMMUNES) is None
    for name in [*REAL, *COMMUNES]:
        assert repair(name) == name
    assert detect(["Na Son", "Him Lam", "QL279", "123", "Main road"]) is None
    assert detect([]) is None


def test_single_ambiguous_value_does_not_flip_a_column():
    # TCVN3 "Pú Nhi" reads "Pó Nhi" in Latin-1, which is valid Vietnamese as it stands
    ambiguous = ENCODERS["tcvn3"]("Pú Nhi")
    assert ambiguous == "Pó Nhi"
    column = [*REAL, ambiguous]
    assert detect(column) is None
    assert repair_values(column)[0] == column
    assert repair(ambiguous) == ambiguous
    assert repair(ambiguous, encoding="tcvn3") == "Pú Nhi"


def test_mixed_column_repairs_only_legacy_values():
    legacy = [ENCODERS["tcvn3"](n) for n in ("Mường Nhé", "Sín Thầu", "Huổi Lèng", "Tủa Thàng")]
    column = ["Pú Nhi", "Búng Lao", "Chà Cang", "Điện Biên Phủ", *legacy, "Na Son"]
    repaired, found = repair_values(column)
    assert found == "tcvn3"
    assert repaired == ["Pú Nhi", "Búng Lao", "Chà Cang", "Điện Biên Phủ", "Mường Nhé", "Sín Thầu", "Huổi Lèng",
                        "Tủa Thàng", "Na Son"]  # fmt: skip


def test_mixed_legacy_encodings_are_repaired_per_value():
    column = [ENCODERS["tcvn3"](n) for n in COMMUNES[:6]] + [ENCODERS["vni"]("Điện Biên Phủ")]
    repaired, found = repair_values(column)
    assert found == "tcvn3"
    assert repaired == [*COMMUNES[:6], "Điện Biên Phủ"]


def test_named_encoding_never_makes_text_worse():
    assert repair("Chà Cang", encoding="tcvn3") == "Chà Cang"  # TCVN3 would give "ChỔ Cang"
    assert repair("Mường Thanh", encoding="vni") == "Mường Thanh"
    assert repair("Ñieän Bieân", encoding="VNI-Windows") == "Điện Biên"
    with pytest.raises(ValueError, match="unknown legacy encoding"):
        repair("x", encoding="utf-16")


def test_output_is_nfc():
    nfd = unicodedata.normalize("NFD", "Mường Thanh")
    assert repair(nfd) == "Mường Thanh"
    assert to_nfc(nfd) == "Mường Thanh"
    assert repair_values([nfd]) == (["Mường Thanh"], None)
