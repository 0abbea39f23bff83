"""End-to-end tests of the demo-province generator: every department figure, read back from the files."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import rasterio
import shapely

from ictgis import demo as demo_mod
from ictgis.demo import build_demo, load_units, write_demo
from ictgis.demo.geography import lonlat_xy

pytestmark = pytest.mark.slow

LAYERS = ("communes", "villages", "bts_sites", "fiber_routes", "post_offices", "roads", "districts")


def _sha(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


@pytest.fixture(scope="session")
def written(tmp_path_factory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo") / "shapefiles")


@pytest.fixture(scope="session")
def layers(written) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(written / f"{name}.shp", engine="pyogrio") for name in LAYERS}


@pytest.fixture(scope="session")
def built():
    return build_demo(dem_resolution_m=500.0)


def test_files_and_crs(written, layers):
    names = {f.name for f in written.iterdir()}
    for layer in LAYERS:
        assert {f"{layer}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        assert layers[layer].crs.to_epsg() == 9205
    assert not [n for n in names if n.endswith((".xml", ".tmp"))]
    assert not list(written.parent.glob(".shapefiles-*")), "temporary folder left behind"
    for f in written.iterdir():
        assert f.stat().st_size < 5_000_000, f.name
    with open(written / "villages.dbf", "rb") as f:
        assert tuple(f.read(4)[1:]) == (121, 6, 30)


def test_dem(written):
    with rasterio.open(written / "dem.tif") as ds:
        assert ds.crs.to_epsg() == 9205
        assert ds.dtypes[0] == "int16" and ds.nodata == -32768
        assert ds.res == (90.0, 90.0)
        assert ds.compression.name.lower() == "deflate" and ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        z = ds.read(1, masked=True)
        assert z.max() > 2000 and z.min() < 400
        x, y = lonlat_xy([(103.005, 21.35)])[0]  # the Mường Thanh basin
        val = next(ds.sample([(x, y)]))[0]
        assert 440 <= val <= 520


def test_communes_are_the_129_units(layers):
    com = layers["communes"]
    units = load_units()
    assert len(com) == 129
    got = com.set_index("code").sort_index()
    want = units.set_index("code").sort_index()
    assert list(got.index) == list(want.index)
    for col in ("name", "kind", "dist_code", "district"):
        assert list(got[col]) == list(want[col]), col
    assert com.kind.value_counts().to_dict() == {"xa": 115, "phuong": 9, "thi_tran": 5}
    assert all(unicodedata.is_normalized("NFC", n) for n in com.name)


def test_clean_coverage_of_exact_area(layers):
    geoms = layers["communes"].geometry.values
    assert shapely.is_valid(geoms).all()
    assert (shapely.get_type_id(geoms) == 3).all()
    assert abs(shapely.area(geoms).sum() / 1e6 - 9541.25) <= 0.01
    assert shapely.coverage_is_valid(geoms)
    union = shapely.coverage_union_all(geoms)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0  # no gaps
    assert abs(union.area - shapely.area(geoms).sum()) < 1.0  # no overlaps
    x0, y0, x1, y1 = union.bounds
    assert 130_000 < x1 - x0 < 165_000 and 160_000 < y1 - y0 < 195_000 and y1 - y0 > x1 - x0
    area = layers["communes"].assign(a=shapely.area(geoms) / 1e6)
    assert area[area.kind == "phuong"].a.median() < 10
    assert area.groupby("dist_code").a.sum().idxmax() == "096"  # Mường Nhé is the largest district


def test_districts_dissolve(layers):
    d, com = layers["districts"], layers["communes"]
    assert len(d) == 10 and sorted(d.code) == [f"{c:03d}" for c in range(94, 104)]
    for _, row in d.iterrows():
        part = shapely.union_all(com[com.dist_code == row.code].geometry.values)
        assert abs(part.area - row.geometry.area) < 1.0
        assert row["name"] == com[com.dist_code == row.code].district.iloc[0]


def test_villages(layers):
    v, com = layers["villages"], layers["communes"]
    assert len(v) == 1444 and v.id.is_unique
    assert (v.fiber == 1).sum() == 1275 and (v.fiber == 0).sum() == 169
    assert round(v.population.sum() / 168) == 3670
    assert v.population.sum() == 616_560
    assert v.households.sum() == 144_396
    assert (v.households >= 1).all() and (v.households <= v.population).all()
    assert v.groupby("commune").size().reindex(com.code).min() >= 3
    sums = v.groupby("commune")[["population", "households"]].sum()
    c = com.set_index("code")
    assert (c.population == sums.population.reindex(c.index)).all()
    assert (c.households == sums.households.reindex(c.index)).all()
    for col in ("poor", "minority", "school", "health"):
        assert set(v[col].unique()) <= {0, 1}
    assert all(unicodedata.is_normalized("NFC", n) for n in v.name)
    assert v.name.str.match(r"^(Bản|Thôn|Tổ dân phố|Khối|Đội) ").all()
    urban = set(com.code[com.kind == "phuong"])
    assert v[v.commune.isin(urban)].name.str.startswith("Tổ dân phố").all()
    remote = set(com.code[com.dist_code.isin(demo_mod.REMOTE_DISTRICTS)])
    assert v[v.fiber == 0].commune.isin(remote).mean() > 0.8


def _containing(points, com):
    pi, ci = com.sindex.query(points, predicate="within")
    out = np.full(len(points), "", dtype=object)
    out[pi] = com.code.to_numpy()[ci]
    return out, np.bincount(pi, minlength=len(points))


@pytest.mark.parametrize("layer", ["villages", "bts_sites", "post_offices"])
def test_points_strictly_inside_their_commune(layers, layer):
    pts, com = layers[layer], layers["communes"]
    code, hits = _containing(pts.geometry.values, com)
    assert (hits == 1).all()
    assert (code == pts.commune.to_numpy()).all()
    boundary = shapely.union_all(shapely.boundary(com.geometry.values))
    assert (shapely.distance(pts.geometry.values, boundary) > 1.0).all()


def test_bts_sites(layers):
    b = layers["bts_sites"]
    assert len(b) == 815 and b.id.is_unique
    assert b.tech.str.contains("3G").sum() == 785
    assert b.tech.str.contains("4G").sum() == 705
    assert (b.power == "diesel").sum() == 16
    assert set(b.power) <= {"grid", "diesel", "solar"}
    ops = b.operator.value_counts()
    assert set(ops.index) == {"Viettel", "VinaPhone", "MobiFone", "Vietnamobile", "Gmobile"}
    assert ops.idxmax() == "Viettel"
    assert b.height_m.between(15, 60).all()
    assert b[b.tech.str.contains("4G")].band_mhz.value_counts().idxmax() == 1800
    com = layers["communes"]
    remote = set(com.code[com.dist_code.isin(demo_mod.REMOTE_DISTRICTS)])
    assert b[b.power == "diesel"].commune.isin(remote).all()
    tp = set(com.code[com.dist_code == "094"])
    density = b.commune.isin(tp).sum() / com[com.code.isin(tp)].area.sum()
    assert density > 3 * len(b) / com.area.sum()


def test_4g_reach(built):
    v, b = built.villages, built.bts_sites
    g4 = shapely.union_all(b[b.tech.str.contains("4G")].geometry.values)
    d = shapely.distance(v.geometry.values, g4)
    gap = v.id.isin(built.uncovered_villages).to_numpy()
    assert gap.any() and (d[gap] > 10_000).all()
    share = v.population[gap].sum() / v.population.sum()
    assert 0.02 < share < 0.07
    near = v.population[d < 5000].sum() / v.population.sum()
    assert near > 0.85


def test_post_offices(layers):
    p, com = layers["post_offices"], layers["communes"]
    assert len(p) == 168 and p.id.is_unique
    assert p.kind.value_counts().to_dict() == {"bdvhx": 107, "cap3": 37, "cap2": 10, "letterbox": 9, "cap1": 2,
                                               "kt1": 1, "large_cust": 1, "other": 1}
    tp = set(com.code[com.dist_code == "094"])
    assert p[p.kind.isin(["cap1", "kt1", "large_cust"])].commune.isin(tp).all()
    bd = p[p.kind == "bdvhx"]
    xa = set(com.code[com.kind == "xa"])
    assert bd.commune.nunique() == 107 and bd.commune.isin(xa).all()
    without = xa - set(bd.commune)
    assert len(without) == 8
    assert len(without & set(p.commune[p.kind == "cap2"])) == 1
    assert p.name.str.len().min() > 5


def test_radio(layers):
    com = layers["communes"]
    assert com.radio.sum() == 97
    assert com[com.kind != "xa"].radio.all()


def test_roads_and_fiber(layers, built):
    r, f, v = layers["roads"], layers["fiber_routes"], layers["villages"]
    assert set(r.road_class) <= {"national", "provincial", "district", "commune", "track"}
    assert {"QL279", "QL12", "QL6", "QL4H"} <= set(r.name[r.road_class == "national"])
    assert (shapely.length(r.geometry.values) > 0).all()
    net = shapely.union_all(r.geometry.values)
    merged = shapely.line_merge(net)
    assert merged.geom_type in ("LineString", "MultiLineString")
    # Noded: lines meet only at their end points.
    tree = shapely.STRtree(r.geometry.values)
    a, b = tree.query(r.geometry.values, predicate="crosses")
    assert len(a) == 0
    # Connected network reaching every commune centre (its first village) and every village.
    g = nx.Graph()
    for line in r.geometry.values:
        xy = shapely.get_coordinates(line)
        g.add_edge(tuple(np.round(xy[0], 3)), tuple(np.round(xy[-1], 3)))
    assert nx.number_connected_components(g) == 1
    assert (shapely.distance(v.geometry.values, net) < 400).mean() > 0.95
    assert set(f.kind) == {"backbone", "distribution", "access"}
    assert set(f.install) <= {"aerial", "underground"}
    fib = shapely.union_all(f.geometry.values)
    first = v.groupby("commune").head(1)
    assert (shapely.distance(first.geometry.values, fib) < 400).all()  # fiber to every commune centre
    dist = shapely.distance(v.geometry.values, fib)
    assert np.median(dist[v.fiber.to_numpy() == 0]) > 1000
    assert np.median(dist[v.fiber.to_numpy() == 1]) < 400


def test_write_is_byte_identical(written, tmp_path):
    again = write_demo(tmp_path / "again")
    assert _sha(again) == _sha(written)


def test_write_coarse_is_byte_identical_and_replaces(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.txt").write_text("keep me")
    write_demo(out, dem_resolution_m=1000.0)
    first = _sha(out)
    write_demo(out, dem_resolution_m=1000.0)
    assert _sha(out) == first and (out / "README.txt").read_text() == "keep me"


def test_on_real_communes(shared_dir):
    real = gpd.read_file(shared_dir / "communes_2019.geojson").to_crs(9205).drop(columns=["district"])
    real = real.rename(columns={"commune_id": "code", "commune_vn": "name", "total": "population",
                                "district_vn": "district"})
    real["code"] = real["code"].astype(str)
    real = real[["code", "name", "population", "district", "geometry"]]
    d = build_demo(communes=real, dem_resolution_m=500.0)
    assert len(d.communes) == len(real)
    assert len(d.villages) == 1444 and len(d.bts_sites) == 815 and len(d.post_offices) == 168
    pop = d.communes.set_index("code").population
    assert (pop == real.set_index("code").population.reindex(pop.index)).all()
    own = d.communes.set_index("code").geometry.reindex(d.villages.commune).values
    assert shapely.contains(own, d.villages.geometry.values).all()
    assert d.villages.groupby("commune").size().min() >= 3
    assert d.dem.shape[0] > 100 and (d.dem != -32768).any()
