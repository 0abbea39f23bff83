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
    """

    name: str
    dtype: str
    required: bool = False
    description: str = ""
    values: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


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
        Field("code", "str", True, "GSO 5-digit commune code", aliases=("ma_xa", "maxa", "ma_dvhc", "commune_id")),
        Field("name", "str", True, "Commune name, without or with its prefix (Xã, Phường, Thị trấn)",
              aliases=("ten_xa", "tenxa", "ten_dvhc", "ten", "commune")),
        Field("population", "int", True, "Population (people)", aliases=("dan_so", "danso", "pop", "total")),
        Field("households", "int", False, "Households", aliases=("so_ho", "soho", "ho_gd")),
        Field("district", "str", False, "District name (derived from a district-name field)",
              aliases=("ten_huyen", "tenhuyen", "huyen")),
        Field("dist_code", "str", False, "GSO 3-digit district code", aliases=("ma_huyen", "mahuyen")),
        Field("kind", "enum", False, "xa, phuong or thi_tran (derived from the name's prefix)", COMMUNE_KINDS,
              aliases=("loai", "cap", "loai_dvhc")),
        Field("radio", "bool", False, "Has a commune radio station", aliases=("dai_tt", "dai_truyen", "co_dai")),
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
        Field("name", "str", True, "Village name", aliases=("ten_thon", "tenthon", "ten_ban", "ten")),
        Field("commune", "str", True, "GSO code of its commune", aliases=("ma_xa", "maxa")),
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
              aliases=("ma_xa",)),
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
              aliases=("lap_dat", "hinh_thuc")),
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
        Field("name", "str", False, "Name", aliases=("ten_bc", "ten_diem", "ten")),
        Field("kind", "enum", True,
              "cap1, cap2, cap3 (bưu cục cấp I/II/III), kt1, large_cust, letterbox, bdvhx (điểm BĐVHX) or other",
              POST_OFFICE_KINDS, aliases=("loai", "loai_diem")),
        Field("commune", "str", False, "GSO code of its commune (derived by location when absent)",
              aliases=("ma_xa",)),
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
        Field("name", "str", False, "Road name or number (QL279 …)", aliases=("ten_duong", "ten")),
    ),
)

DISTRICTS = LayerSchema(
    name="districts",
    geometry="Polygon",
    id_field="code",
    label_vi="Huyện, thị xã, thành phố",
    description="District-level units (before the 2025 reform).",
    fields=(
        Field("code", "str", True, "GSO 3-digit district code", aliases=("ma_huyen", "level2_id")),
        Field("name", "str", True, "District name", aliases=("ten_huyen", "ten")),
    ),
)

SCHEMAS: dict[str, LayerSchema] = {
    s.name: s for s in (COMMUNES, VILLAGES, BTS_SITES, FIBER_ROUTES, POST_OFFICES, ROADS, DISTRICTS)
}
LAYER_NAMES: tuple[str, ...] = tuple(SCHEMAS)
DEM_NAMES: tuple[str, ...] = ("dem.tif", "dem.tiff")

# Enum values accepted in Vietnamese or in other spellings, keyed by field then by folded text.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "kind@communes": {"xa": "xa", "phuong": "phuong", "thi tran": "thi_tran", "thi_tran": "thi_tran",
                      "tt": "thi_tran", "p": "phuong", "x": "xa"},
    "kind@post_offices": {
        "cap1": "cap1", "cap i": "cap1", "buu cuc cap i": "cap1", "buu cuc cap 1": "cap1", "bc1": "cap1",
        "cap2": "cap2", "cap ii": "cap2", "buu cuc cap ii": "cap2", "buu cuc cap 2": "cap2", "bc2": "cap2",
        "cap3": "cap3", "cap iii": "cap3", "buu cuc cap iii": "cap3", "buu cuc cap 3": "cap3", "bc3": "cap3",
        "kt1": "kt1", "buu cuc kt1": "kt1", "large_cust": "large_cust", "khach hang lon": "large_cust",
        "buu cuc khach hang lon": "large_cust", "letterbox": "letterbox", "hop thu": "letterbox",
        "hom thu": "letterbox", "thung thu": "letterbox", "hop thu cong cong": "letterbox",
        "bdvhx": "bdvhx", "diem bdvhx": "bdvhx", "buu dien van hoa xa": "bdvhx",
        "diem buu dien van hoa xa": "bdvhx", "other": "other", "khac": "other",
    },
    "power@bts_sites": {"grid": "grid", "luoi": "grid", "dien luoi": "grid", "diesel": "diesel",
                        "may no": "diesel", "may phat": "diesel", "solar": "solar", "mat troi": "solar",
                        "nang luong mat troi": "solar"},
    "kind@fiber_routes": {"backbone": "backbone", "truc": "backbone", "distribution": "distribution",
                          "phan phoi": "distribution", "access": "access", "truy nhap": "access"},
    "install@fiber_routes": {"aerial": "aerial", "treo": "aerial", "cap treo": "aerial",
                             "underground": "underground", "ngam": "underground", "cap ngam": "underground"},
    "road_class@roads": {"national": "national", "quoc lo": "national", "ql": "national",
                         "provincial": "provincial", "tinh lo": "provincial", "dt": "provincial",
                         "district": "district", "huyen lo": "district", "dh": "district",
                         "commune": "commune", "xa lo": "commune", "duong xa": "commune",
                         "track": "track", "duong mon": "track", "duong dat": "track"},
}

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
