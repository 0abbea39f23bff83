"""The planning layers and their schemas.

Each layer is one file in a data folder, named after the layer (``communes.shp``, ``villages.gpkg`` …). Attribute
names are short English snake_case (≤ 10 characters, so they fit in a DBF). Only what an analysis needs is
required; every layer but ``communes`` is optional.

Vietnamese field names common in government shapefiles (MA_XA, TEN_XA, DAN_SO …) are built-in aliases, and enum
values are accepted in Vietnamese too ("Xã", "Thị trấn", "BĐVHX", "Có"/"Không").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    """One attribute of a layer schema.

    Parameters
    ----------
    name
        Attribute name (≤ 10 characters).
    dtype
        One of ``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"enum"``.
    required
        Whether a layer without it is refused.
    description
        What it means, for the README and error messages.
    values
        Allowed values of an enum.
    aliases
        Other field names accepted for it on read (compared case-insensitively, without diacritics).
    vietnamese
        Human-readable text: each name and alias also matches ``<name>_vn``, and of several matching columns the
        one holding Vietnamese letters is taken (``commune_vn`` over an ASCII ``commune``).
    code_width
        Digits of a fixed-width GSO code (5 for communes, 3 for districts): shorter all-digit values lost their
        leading zeros in Excel and are padded back (with a warning).
    """

    name: str
    dtype: str
    required: bool = False
    description: str = ""
    values: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    vietnamese: bool = False
    code_width: int = 0


@dataclass(frozen=True)
class LayerSchema:
    """Schema of one layer: geometry type, id field and attributes."""

    name: str
    geometry: str  # "Polygon", "Point", "LineString"
    fields: tuple[Field, ...]
    id_field: str | None
    description: str = ""
    required: bool = False
    label_vi: str = ""
    extra: dict = field(default_factory=dict)

    def field(self, name: str) -> Field:
        """Return the field called `name`."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def required_fields(self) -> list[str]:
        """Names of the required attributes."""
        return [f.name for f in self.fields if f.required]


COMMUNE_KINDS = ("xa", "phuong", "thi_tran")
POST_OFFICE_KINDS = ("cap1", "cap2", "cap3", "kt1", "large_cust", "letterbox", "bdvhx", "other")
TECHNOLOGIES = ("2G", "3G", "4G", "5G")
POWER_SOURCES = ("grid", "diesel", "solar")
FIBER_KINDS = ("backbone", "distribution", "access")
INSTALLATIONS = ("aerial", "underground")
ROAD_CLASSES = ("national", "provincial", "district", "commune", "track")

COMMUNES = LayerSchema(
    name="communes",
    geometry="Polygon",
    id_field="code",
    required=True,
    label_vi="Xã, phường, thị trấn",
    description="Commune-level units (xã, phường, thị trấn) of the province.",
    fields=(
        Field("code", "str", True, "GSO 5-digit commune code", aliases=("ma_xa", "maxa", "ma_dvhc", "commune_id"),
              code_width=5),
        Field("name", "str", True, "Commune name, without or with its prefix (Xã, Phường, Thị trấn)",
              aliases=("ten_xa", "tenxa", "ten_dvhc", "ten", "commune"), vietnamese=True),
        Field("population", "int", True, "Population (people)", aliases=("dan_so", "danso", "pop", "total")),
        Field("households", "int", False, "Households", aliases=("so_ho", "soho", "ho_gd")),
        Field("district", "str", False, "District name (derived from a district-name field)",
              aliases=("ten_huyen", "tenhuyen", "huyen"), vietnamese=True),
        Field("dist_code", "str", False, "GSO 3-digit district code", aliases=("ma_huyen", "mahuyen"), code_width=3),
        Field("kind", "enum", False, "xa, phuong or thi_tran (derived from the name's prefix)", COMMUNE_KINDS,
              aliases=("loai", "cap", "loai_dvhc")),
        Field("radio", "bool", False, "Has a commune radio station", aliases=("dai_tt", "dai_truyen", "co_dai")),
        Field("radio_it", "bool", False, "Its radio station uses IT/telecom (IP or mobile-network loudspeakers)",
              aliases=("dai_cntt", "dai_ip", "tt_cntt", "dai_tt_it", "radio_ip")),
    ),
)

VILLAGES = LayerSchema(
    name="villages",
    geometry="Point",
    id_field="id",
    label_vi="Thôn, bản",
    description="Villages (thôn, bản, tổ dân phố): one point at the village centre or cultural house.",
    fields=(
        Field("id", "str", True, "Village id, unique in the province", aliases=("ma_thon", "mathon")),
        Field("name", "str", True, "Village name", aliases=("ten_thon", "tenthon", "ten_ban", "ten"), vietnamese=True),
        Field("commune", "str", True, "GSO code of its commune", aliases=("ma_xa", "maxa"), code_width=5),
        Field("population", "int", True, "Population (people)", aliases=("dan_so", "danso", "pop")),
        Field("households", "int", False, "Households", aliases=("so_ho", "soho")),
        Field("fiber", "bool", False, "Reached by fixed broadband (fiber)", aliases=("cap_quang", "co_cap_qua")),
        Field("poor", "bool", False, "Poor or especially disadvantaged village (for fiber priority)",
              aliases=("ngheo", "dbkk")),
        Field("minority", "bool", False, "Mostly ethnic-minority village", aliases=("dtts",)),
        Field("school", "bool", False, "Has a school", aliases=("truong_hoc",)),
        Field("health", "bool", False, "Has a health station", aliases=("tram_yte", "y_te")),
    ),
)

BTS_SITES = LayerSchema(
    name="bts_sites",
    geometry="Point",
    id_field="id",
    label_vi="Trạm BTS",
    description="Mobile base station sites.",
    fields=(
        Field("id", "str", True, "Site id, unique in the province", aliases=("ma_tram", "site_id")),
        Field("operator", "str", True, "Operator (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile …)",
              aliases=("nha_mang", "doanh_ngh", "dn")),
        Field("tech", "str", True, "Technologies, comma-separated from 2G, 3G, 4G, 5G",
              aliases=("cong_nghe", "technology")),
        Field("band_mhz", "float", False, "Main 4G/5G band in MHz (settings give defaults per technology)",
              aliases=("bang_tan", "freq_mhz", "band")),
        Field("height_m", "float", False, "Antenna height above ground (m)", aliases=("do_cao", "chieu_cao")),
        Field("power", "enum", False, "Power source: grid, diesel or solar", POWER_SOURCES,
              aliases=("nguon_dien", "nguon")),
        Field("commune", "str", False, "GSO code of its commune (derived by location when absent)",
              aliases=("ma_xa",), code_width=5),
        Field("tower", "str", False, "Shared-tower id: records with the same id stand on one tower (sharing)",
              aliases=("ma_cot", "cot_anten", "tower_id", "ma_nha_tram", "csht")),
    ),
)

FIBER_ROUTES = LayerSchema(
    name="fiber_routes",
    geometry="LineString",
    id_field="id",
    label_vi="Tuyến cáp quang",
    description="Fiber optic cable routes.",
    fields=(
        Field("id", "str", True, "Route id", aliases=("ma_tuyen",)),
        Field("kind", "enum", False, "backbone, distribution or access", FIBER_KINDS, aliases=("loai", "cap")),
        Field("install", "enum", False, "aerial (on poles) or underground", INSTALLATIONS,
              aliases=("lap_dat", "hinh_thuc", "installation", "install_ty", "kieu_lap", "ngam_treo")),
        Field("operator", "str", False, "Owner", aliases=("nha_mang", "doanh_ngh")),
    ),
)

POST_OFFICES = LayerSchema(
    name="post_offices",
    geometry="Point",
    id_field="id",
    label_vi="Điểm phục vụ bưu chính",
    description="Postal service points (the department's kinds: docs/sources.md §1.2).",
    fields=(
        Field("id", "str", True, "Service point id", aliases=("ma_bc", "ma_diem")),
        Field("name", "str", False, "Name", aliases=("ten_bc", "ten_diem", "ten"), vietnamese=True),
        Field("kind", "enum", True,
              "cap1, cap2, cap3 (bưu cục cấp I/II/III), kt1, large_cust, letterbox, bdvhx (điểm BĐVHX) or other",
              POST_OFFICE_KINDS, aliases=("loai", "loai_diem")),
        Field("commune", "str", False, "GSO code of its commune (derived by location when absent)",
              aliases=("ma_xa",), code_width=5),
    ),
)

ROADS = LayerSchema(
    name="roads",
    geometry="LineString",
    id_field=None,
    label_vi="Đường giao thông",
    description="Road network.",
    fields=(
        Field("id", "str", False, "Road segment id"),
        Field("road_class", "enum", False, "national, provincial, district, commune or track", ROAD_CLASSES,
              aliases=("cap_duong", "loai_duong", "class")),
        Field("name", "str", False, "Road name or number (QL279 …)", aliases=("ten_duong", "ten"), vietnamese=True),
    ),
)

DISTRICTS = LayerSchema(
    name="districts",
    geometry="Polygon",
    id_field="code",
    label_vi="Huyện, thị xã, thành phố",
    description="District-level units (before the 2025 reform).",
    fields=(
        Field("code", "str", True, "GSO 3-digit district code", aliases=("ma_huyen", "level2_id"), code_width=3),
        Field("name", "str", True, "District name", aliases=("ten_huyen", "ten"), vietnamese=True),
    ),
)

#: Cells (sectors) of the BTS sites: a table keyed by site (CSV, XLSX or any vector format; geometry, if any, is not
#: used). Read by :mod:`ictgis.cells`, not among the folder's map layers (`SCHEMAS`).
CELLS = LayerSchema(
    name="cells",
    geometry="None",
    id_field=None,
    label_vi="Cell (sector) của trạm BTS",
    description="Cells (sectors) of the BTS sites: azimuth, tilt and antenna; sites without cells are omnidirectional.",
    fields=(
        Field("site", "str", True, "Id of its BTS site", aliases=("ma_tram", "site_id", "tram", "bts")),
        Field("cell", "str", False, "Cell id (default <site>-<n>)",
              aliases=("ma_cell", "cell_id", "sector", "ten_cell")),
        Field("tech", "str", False, "Technologies of the cell, comma-separated (default: all of the site's)",
              aliases=("cong_nghe", "technology")),
        Field("azimuth", "float", True, "Azimuth of the antenna, degrees clockwise from north (0–360)",
              aliases=("goc_phuong_vi", "phuong_vi", "azi", "huong_anten")),
        Field("tilt", "float", False, "Downtilt, mechanical + electrical, degrees (down positive; default 0)",
              aliases=("goc_nghieng", "do_nghieng", "downtilt")),
        Field("beamwidth", "float", False, "Horizontal 3 dB beamwidth, degrees (default 65)",
              aliases=("do_rong_bup", "bup_song", "h_width", "hbw")),
        Field("gain_dbi", "float", False, "Antenna gain, dBi (default: the pattern file's, else the technology's)",
              aliases=("do_loi", "tang_ich", "gain")),
        Field("band_mhz", "float", False, "Band in MHz (default: the site's)",
              aliases=("bang_tan", "freq_mhz", "band")),
        Field("height_m", "float", False, "Antenna height above ground, m (default: the site's)",
              aliases=("do_cao", "chieu_cao")),
        Field("power_dbm", "float", False, "Transmit power, dBm (default: the technology's)",
              aliases=("cong_suat", "tx_dbm", "power")),
        Field("pattern", "str", False, "Antenna pattern file in antennas/ (MSI/Planet format)",
              aliases=("file_anten", "mau_anten", "antenna", "anten")),
    ),
)

SCHEMAS: dict[str, LayerSchema] = {
    s.name: s for s in (COMMUNES, VILLAGES, BTS_SITES, FIBER_ROUTES, POST_OFFICES, ROADS, DISTRICTS)
}
LAYER_NAMES: tuple[str, ...] = tuple(SCHEMAS)
DEM_NAMES: tuple[str, ...] = ("dem.tif", "dem.tiff")

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "co", "x", "c"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "khong", "k", ""})


def fold(text: str) -> str:
    """Fold text for matching: NFC, lower case, no diacritics, đ → d, runs of space/underscore/dash → one space.

    Examples
    --------
    >>> fold("Thị_trấn")
    'thi tran'
    >>> fold("ĐIỂM BĐVHX")
    'diem bdvhx'
    """
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    for ch in "_-./":
        text = text.replace(ch, " ")
    return " ".join(text.split())


# Enum values accepted in Vietnamese, keyed by "field@layer" then by schema value. Matching folds case, diacritics,
# Unicode form and spaces (`fold`), so "QUỐC LỘ", "quốc lộ" and "Quoc lo" are one term. The road classes follow the
# road law's classification (Luật Đường bộ 2024, 35/2024/QH15: quốc lộ, đường tỉnh, đường huyện, đường xã, đường
# thôn …) and the older
# names (tỉnh lộ, huyện lộ); urban and special-purpose roads (đường đô thị, đường chuyên dùng) have no class here:
# map them with `values:` in layers.yaml.
VALUE_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    "kind@communes": {"xa": ("Xã", "X"), "phuong": ("Phường", "P"), "thi_tran": ("Thị trấn", "TT")},
    "kind@post_offices": {
        "cap1": ("Bưu cục cấp I", "Bưu cục cấp 1", "Cấp I", "BC1"),
        "cap2": ("Bưu cục cấp II", "Bưu cục cấp 2", "Cấp II", "BC2"),
        "cap3": ("Bưu cục cấp III", "Bưu cục cấp 3", "Cấp III", "BC3"),
        "kt1": ("Bưu cục KT1",),
        "large_cust": ("Bưu cục khách hàng lớn", "Khách hàng lớn"),
        "letterbox": ("Hộp thư công cộng", "Hộp thư", "Hòm thư", "Thùng thư"),
        "bdvhx": ("Điểm Bưu điện văn hóa xã", "Bưu điện văn hóa xã", "Điểm BĐVHX", "BĐVHX"),
        "other": ("Khác",),
    },
    "power@bts_sites": {"grid": ("Điện lưới", "Lưới"), "diesel": ("Máy nổ", "Máy phát"),
                        "solar": ("Năng lượng mặt trời", "Mặt trời", "Pin mặt trời")},
    "kind@fiber_routes": {"backbone": ("Trục", "Cáp trục"), "distribution": ("Phân phối",),
                          "access": ("Truy nhập", "Truy cập")},
    "install@fiber_routes": {"aerial": ("Treo", "Cáp treo", "Đi nổi", "Nổi", "Trên cột", "Overhead", "Aboveground",
                                        "Above ground"),
                             "underground": ("Ngầm", "Cáp ngầm", "Đi ngầm", "Ngầm hóa", "Chôn", "Cống bể",
                                             "Buried", "Belowground", "Below ground")},
    "road_class@roads": {
        "national": ("Quốc lộ", "Đường quốc lộ", "Quốc gia", "Đường quốc gia", "Cấp quốc gia", "Đường cao tốc",
                     "Cao tốc", "QL"),
        "provincial": ("Đường tỉnh", "Tỉnh lộ", "Cấp tỉnh", "ĐT", "TL"),
        "district": ("Đường huyện", "Huyện lộ", "Cấp huyện", "ĐH"),
        "commune": ("Đường xã", "Xã lộ", "Cấp xã", "Đường liên xã", "Liên xã", "Hương lộ", "ĐX"),
        "track": ("Đường thôn", "Đường bản", "Đường thôn bản", "Đường thôn, bản", "Đường liên thôn",
                  "Đường liên bản", "Đường nội đồng", "Đường dân sinh", "Đường mòn", "Đường đất"),
    },
}


def _value_aliases() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, terms in VALUE_TERMS.items():
        table = out.setdefault(key, {})
        for value, words in terms.items():
            table[fold(value)] = value
            table[value] = value
            for word in words:
                table[fold(word)] = value
    return out


# Folded term → schema value, per "field@layer" (built from VALUE_TERMS).
VALUE_ALIASES: dict[str, dict[str, str]] = _value_aliases()


def enum_value(value: object, spec: Field, layer: str) -> str | None:
    """Return the schema value an enum cell means (built-in Vietnamese terms included), or None.

    Examples
    --------
    >>> enum_value("  QUỐC LỘ ", ROADS.field("road_class"), "roads")
    'national'
    >>> enum_value("Đường đô thị", ROADS.field("road_class"), "roads") is None
    True
    """
    word = fold(str(value))
    mapped = VALUE_ALIASES.get(f"{spec.name}@{layer}", {}).get(word, word.replace(" ", "_"))
    return mapped if mapped in spec.values else None


# Exact (diacritic-sensitive) prefixes: "Xá Tổng" and "Xa Dung" are names, not "Xã …".
COMMUNE_PREFIXES: tuple[tuple[str, str], ...] = (("thị trấn", "thi_tran"), ("phường", "phuong"), ("xã", "xa"))


def split_commune_name(name: str) -> tuple[str, str | None]:
    """Split a prefixed commune name into its bare name and kind.

    Examples
    --------
    >>> split_commune_name("Thị trấn Tủa Chùa")
    ('Tủa Chùa', 'thi_tran')
    >>> split_commune_name("Xá Tổng")
    ('Xá Tổng', None)
    """
    name = unicodedata.normalize("NFC", str(name)).strip()
    lowered = " ".join(name.lower().split())
    for prefix, kind in COMMUNE_PREFIXES:
        if lowered.startswith(prefix + " "):
            n_words = len(prefix.split())
            return " ".join(name.split()[n_words:]), kind
    return name, None


def parse_tech(value: object) -> tuple[str, ...]:
    """Parse a technology list such as ``"2G,3G,4G"`` or ``"2G/4G"`` into sorted known technologies.

    Raises
    ------
    ValueError
        If an entry is not one of 2G, 3G, 4G, 5G.
    """
    if value is None:
        return ()
    parts = [p.strip().upper() for p in str(value).replace("/", ",").replace(";", ",").replace(" ", ",").split(",")]
    parts = [p for p in parts if p]
    bad = [p for p in parts if p not in TECHNOLOGIES]
    if bad:
        raise ValueError(f"unknown technology {', '.join(bad)}; expected some of {', '.join(TECHNOLOGIES)}")
    return tuple(sorted(set(parts)))
