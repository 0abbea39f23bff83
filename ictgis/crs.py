"""Coordinate reference systems: the VN-2000 provincial grids and the pinned datum shift.

Every distance, area and buffer is computed in the province's working CRS, VN-2000 / TM-3 (EPSG:9205 for
Điện Biên). EPSG:4326 is only for the map. VN-2000 ↔ WGS 84 always goes through the pinned 7-parameter
transformation EPSG:6960; ignoring it moves points about 220 m at Điện Biên Phủ. CRSs are kept as EPSG codes:
never round-trip one through proj4 or WKT1, which drop the datum shift.
"""

from __future__ import annotations

import logging
import threading

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError
from pyproj.transformer import TransformerGroup

from . import settings
from ._errors import CRSError

logger = logging.getLogger(__name__)

#: VN-2000 TM-3 zone (central meridian) of each province, by GSO province code, after Thông tư 973/2001/TT-TCĐC.
#: Values are (province name, EPSG code). Provinces whose meridian has no TM-3 EPSG code use the matching
#: "TM-3 zone" code (5896 102°, 5897 105°, 5898 108°, 5899 107°45').
TM3_ZONES: dict[str, tuple[str, int]] = {
    "01": ("Hà Nội", 5897), "02": ("Hà Giang", 9209), "04": ("Cao Bằng", 9210), "06": ("Bắc Kạn", 9213),
    "08": ("Tuyên Quang", 9211), "10": ("Lào Cai", 9208), "11": ("Điện Biên", 9205), "12": ("Lai Châu", 9205),
    "14": ("Sơn La", 9206), "15": ("Yên Bái", 9208), "17": ("Hòa Bình", 9211), "19": ("Thái Nguyên", 9213),
    "20": ("Lạng Sơn", 9215), "22": ("Quảng Ninh", 5899), "24": ("Bắc Giang", 9214), "25": ("Phú Thọ", 9208),
    "26": ("Vĩnh Phúc", 5897), "27": ("Bắc Ninh", 9209), "30": ("Hải Dương", 9209), "31": ("Hải Phòng", 9210),
    "33": ("Hưng Yên", 9209), "34": ("Thái Bình", 9209), "35": ("Hà Nam", 5897), "36": ("Nam Định", 9209),
    "37": ("Ninh Bình", 5897), "38": ("Thanh Hóa", 5897), "40": ("Nghệ An", 9208), "42": ("Hà Tĩnh", 9209),
    "44": ("Quảng Bình", 9211), "45": ("Quảng Trị", 9212), "46": ("Thừa Thiên Huế", 9214),
    "48": ("Đà Nẵng", 5899), "49": ("Quảng Nam", 5899), "51": ("Quảng Ngãi", 5898), "52": ("Bình Định", 9217),
    "54": ("Phú Yên", 9218), "56": ("Khánh Hòa", 9217), "58": ("Ninh Thuận", 9217), "60": ("Bình Thuận", 9218),
    "62": ("Kon Tum", 9216), "64": ("Gia Lai", 9218), "66": ("Đắk Lắk", 9218), "67": ("Đắk Nông", 9218),
    "68": ("Lâm Đồng", 5899), "70": ("Bình Phước", 9212), "72": ("Tây Ninh", 9209), "74": ("Bình Dương", 9210),
    "75": ("Đồng Nai", 5899), "77": ("Bà Rịa - Vũng Tàu", 5899), "79": ("TP Hồ Chí Minh", 9210),
    "80": ("Long An", 9210), "82": ("Tiền Giang", 9210), "83": ("Bến Tre", 9210), "84": ("Trà Vinh", 9209),
    "86": ("Vĩnh Long", 9209), "87": ("Đồng Tháp", 5897), "89": ("An Giang", 9208), "91": ("Kiên Giang", 9207),
    "92": ("Cần Thơ", 5897), "93": ("Hậu Giang", 5897), "94": ("Sóc Trăng", 9209), "95": ("Bạc Liêu", 5897),
    "96": ("Cà Mau", 9207),
}

WGS84 = CRS.from_epsg(4326)
VN2000 = CRS.from_epsg(4756)
PINNED_OPERATION = 6960

# Rough bounds of Vietnam in degrees, to tell degrees from metres and to catch swapped axes.
VN_LON = (101.5, 110.0)
VN_LAT = (8.0, 23.5)


def working_crs(province_code: str | None = None) -> CRS:
    """Return the working CRS (VN-2000 TM-3 zone) of a province.

    Parameters
    ----------
    province_code
        GSO 2-digit province code; defaults to ``settings.province_code`` (Điện Biên, "11").

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        If the province code is unknown.

    Examples
    --------
    >>> working_crs("11").to_epsg()
    9205
    """
    code = settings.province_code if province_code is None else str(province_code).zfill(2)
    if code not in TM3_ZONES:
        raise CRSError(f"unknown province code {code!r}: expected one of {', '.join(sorted(TM3_ZONES))}")
    return CRS.from_epsg(TM3_ZONES[code][1])


def parse_crs(value: object, *, source: str = "CRS") -> CRS:
    """Parse a user-given CRS (``"EPSG:9205"``, ``9205``, a pyproj CRS), raising CRSError when it is not one."""
    try:
        crs = CRS.from_user_input(value)
    except (_PyprojCRSError, TypeError, ValueError) as exc:
        raise CRSError(f"{source}: {value!r} is not a coordinate reference system ({exc})") from None
    return crs


def _is_vn2000(crs: CRS) -> bool:
    geodetic = crs.geodetic_crs
    return geodetic is not None and (geodetic.to_epsg() == 4756 or "VN-2000" in geodetic.name)


def _is_wgs84(crs: CRS) -> bool:
    geodetic = crs.geodetic_crs
    return geodetic is not None and (geodetic.to_epsg() == 4326 or geodetic.name == "WGS 84")


def _operation_ids(node: object) -> set[int]:
    found: set[int] = set()
    if isinstance(node, dict):
        ident = node.get("id")
        if isinstance(ident, dict) and "EPSG" in str(ident.get("authority", "")):
            found.add(int(ident["code"]))
        for value in node.values():
            found |= _operation_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= _operation_ids(value)
    return found


def _build_transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    src, dst = CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt)
    if (_is_vn2000(src) and _is_wgs84(dst)) or (_is_wgs84(src) and _is_vn2000(dst)):
        group = TransformerGroup(src, dst, always_xy=True)
        for candidate in group.transformers:
            if PINNED_OPERATION in _operation_ids(candidate.to_json_dict()):
                return candidate
        raise CRSError(
            f"PROJ offers no transformation through EPSG:{PINNED_OPERATION} from {src.name} to {dst.name}"
        )
    return Transformer.from_crs(src, dst, always_xy=True)


# One cache of transformers per thread. A transformer taken from a `TransformerGroup` wraps a single PROJ object
# ("TransformerUnsafe" in pyproj: not thread-safe), and the web server transforms layers from many request threads
# at once: one such transformer shared by a process-wide cache made the server segfault in libproj within seconds
# (issue 10). Rebuilding it from its PROJJSON or WKT would let pyproj make one per thread, but does not give the
# same operation back (the PROJJSON of the normalised 4326 → 9205 pipeline lands 392 m off), so each thread builds
# its own with the same pinned selection (about 10 ms once per thread and CRS pair).
_per_thread = threading.local()
_PER_THREAD_MAX = 64


def transformer(src: object, dst: object) -> Transformer:
    """Return an always-xy transformer, pinned to EPSG:6960 between VN-2000 and WGS 84.

    The transformer belongs to the calling thread (each thread gets its own, cached): use it in that thread only,
    and call this function again in another thread.

    Examples
    --------
    >>> t = transformer("EPSG:4326", "EPSG:9205")
    >>> x, y = t.transform(103.0, 21.38)
    >>> round(x), round(y)
    (499804, 2365019)
    """
    src_crs, dst_crs = parse_crs(src), parse_crs(dst)
    # WKT2 keeps datum and identifiers, unlike proj4 / WKT1.
    key = (src_crs.to_wkt(), dst_crs.to_wkt())
    cache: dict[tuple[str, str], Transformer] | None = getattr(_per_thread, "transformers", None)
    if cache is None:
        cache = _per_thread.transformers = {}
    found = cache.get(key)
    if found is None:
        if len(cache) >= _PER_THREAD_MAX:
            cache.clear()
        found = cache[key] = _build_transformer(*key)
    return found


def to_crs(frame: gpd.GeoDataFrame, crs: object) -> gpd.GeoDataFrame:
    """Reproject a GeoDataFrame with the pinned transformation; return a new frame.

    Raises
    ------
    CRSError
        If the frame has no CRS.
    """
    if frame.crs is None:
        raise CRSError("the layer has no CRS: state one (e.g. --crs EPSG:9205 or `crs:` in layers.yaml)")
    dst = parse_crs(crs)
    if CRS(frame.crs).equals(dst):
        return frame.copy()
    tr = transformer(frame.crs, dst)
    geoms = shapely.transform(
        np.asarray(frame.geometry.values, dtype=object),
        lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
    )
    out = frame.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=dst), crs=dst)
    return out


def looks_like_degrees(bounds: tuple[float, float, float, float]) -> bool:
    """Tell whether coordinate bounds fit in degrees (|x| ≤ 180, |y| ≤ 90)."""
    minx, miny, maxx, maxy = bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def looks_swapped(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Flag lon/lat pairs that sit in Vietnam only once swapped (x looks like a latitude, y like a longitude)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    in_vn = (x >= VN_LON[0]) & (x <= VN_LON[1]) & (y >= VN_LAT[0]) & (y <= VN_LAT[1])
    swapped = (y >= VN_LON[0]) & (y <= VN_LON[1]) & (x >= VN_LAT[0]) & (x <= VN_LAT[1])
    return swapped & ~in_vn
