"""Reading data folders: formats, mapping files, and every kind of validation problem."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import X0, Y0, tiny_layers, write_layers

from ictgis import CRSError, LayerError, RepairWarning, io
from ictgis.crs import to_crs


def load_quiet(folder, **kw):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        return io.load(folder, **kw)


def problems_of(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_load_tiny_shapefiles(tiny_dir):
    ds = io.load(tiny_dir)
    assert set(ds.layers) == {"communes", "villages", "bts_sites", "fiber_routes", "post_offices", "roads"}
    assert ds.crs.to_epsg() == 9205
    communes = ds["communes"]
    assert communes["kind"].tolist() == ["phuong", "phuong", "xa", "xa"]
    assert communes["name"].tolist()[2] == "Nà Tấu"
    assert str(communes["population"].dtype) == "Int64"
    assert ds["villages"]["fiber"].sum() == 7
    assert ds.topology.clean


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".fgb"])
def test_formats_round_trip_names(tmp_path, suffix):
    folder = write_layers(tmp_path / "d", tiny_layers(), suffix=suffix)
    ds = io.load(folder)
    assert ds["villages"]["name"].tolist()[4] == "Bản Noọng Hẹt"
    assert ds["villages"]["id"].tolist() == [f"V{i:02d}" for i in range(1, 11)]


def test_one_geopackage_with_a_layer_per_name(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    for name, frame in tiny_layers().items():
        frame.to_file(folder / "province.gpkg", layer=name, engine="pyogrio")
    ds = io.load(folder)
    assert len(ds["villages"]) == 10 and len(ds["communes"]) == 4


def test_zipped_shapefile_and_kml_and_csv(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    shp_dir = write_layers(tmp_path / "v", {"villages": layers["villages"]})
    with zipfile.ZipFile(folder / "villages.zip", "w") as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    to_crs(layers["post_offices"], 4326).to_file(folder / "post_offices.kml", driver="KML", engine="pyogrio")
    sites = to_crs(layers["bts_sites"], 4326)
    table = pd.DataFrame(sites.drop(columns="geometry"))
    table["lon"], table["lat"] = sites.geometry.x, sites.geometry.y
    table.to_csv(folder / "bts_sites.csv", index=False)
    ds = io.load(folder)
    assert len(ds["villages"]) == 10
    assert sorted(ds["post_offices"]["kind"]) == ["bdvhx", "cap1", "letterbox"]
    moved = shapely.distance(ds["bts_sites"].geometry.values, layers["bts_sites"].geometry.values)
    assert moved.max() < 0.01


def test_csv_with_xy_needs_a_crs(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    v = layers["villages"]
    table = pd.DataFrame(v.drop(columns="geometry"))
    table["x"], table["y"] = v.geometry.x, v.geometry.y
    table.to_csv(folder / "villages.csv", index=False)
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    assert any("villages.csv: the layer has no CRS" in p for p in problems_of(exc))
    ds = io.load(folder, crs="EPSG:9205")
    assert len(ds["villages"]) == 10


def test_vietnamese_field_names_are_builtin_aliases(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"].rename(columns={"code": "MA_XA", "name": "TEN_XA", "district": "TEN_HUYEN",
                                                  "population": "DAN_SO", "households": "SO_HO"})
    villages = layers["villages"].rename(columns={"name": "TEN_THON", "population": "DAN_SO", "commune": "MA_XA",
                                                  "households": "SO_HO"})
    folder = write_layers(tmp_path / "d", {"communes": communes, "villages": villages})
    ds = io.load(folder)
    assert ds["communes"]["district"].iloc[0] == "Thành phố Điện Biên Phủ"
    assert ds["villages"]["population"].sum() == 23000


def test_mapping_file_maps_other_file_and_field_names(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"][["code", "name", "population", "geometry"]].rename(
        columns={"code": "MAXA_GSO", "name": "TEN", "population": "DS_2021"})
    folder = tmp_path / "d"
    folder.mkdir()
    communes.to_file(folder / "ranh_gioi_xa.shp", engine="pyogrio")
    (folder / "layers.yaml").write_text(
        "layers:\n  communes:\n    file: ranh_gioi_xa.shp\n"
        "    fields: {code: MAXA_GSO, name: TEN, population: DS_2021}\n",
        encoding="utf-8")
    ds = io.load(folder)
    assert ds["communes"]["code"].tolist() == ["03124", "03127", "03316", "03325"]
    assert ds["communes"]["population"].sum() == 23000


def test_mapping_file_errors_are_listed(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    (folder / "layers.yaml").write_text(
        "colour: red\nlayers:\n  towns: x.shp\n  communes:\n    fields: {code: NOPE, size: X}\n", encoding="utf-8")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = "\n".join(problems_of(exc))
    assert "unknown key 'colour'" in text
    assert "unknown layer 'towns'" in text
    assert "'size' is not an attribute of communes" in text
    assert "field 'NOPE' (mapped to code) is not in communes.shp" in text


def test_missing_required_fields_wrong_types_enums_and_duplicates_all_at_once(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].drop(columns=["name"])
    villages["population"] = villages["population"].astype(object)
    villages.loc[3, "population"] = "abc"
    villages.loc[5, "id"] = "V01"
    posts = layers["post_offices"].copy()
    posts.loc[1, "kind"] = "kiosk"
    sites = layers["bts_sites"].copy()
    sites.loc[2, "tech"] = "2G,6G"
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages,
                                           "post_offices": posts, "bts_sites": sites})
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = problems_of(exc)
    assert "villages.shp, column name: required attribute 'name' (Village name) is missing" in text
    assert any(p.startswith("villages.shp row 4 (id V04), column population: population is 'abc'") for p in text)
    assert "villages.shp row 6 (id V01), column id: duplicate id 'V01' (first at row 1)" in text
    assert any(p.startswith("post_offices.shp row 2 (id P2), column kind: kind is 'kiosk', expected one of")
               for p in text)
    assert any(p.startswith("bts_sites.shp row 3 (id S3), column tech:") and "6G" in p for p in text)
    # inputs are never modified
    assert before == {p.name: p.read_bytes() for p in folder.iterdir()}


def test_vietnamese_enum_values_are_accepted(tmp_path):
    layers = tiny_layers()
    posts = layers["post_offices"].copy()
    posts["kind"] = ["Bưu cục cấp I", "Điểm BĐVHX", "Hộp thư công cộng"]
    sites = layers["bts_sites"].copy()
    sites["power"] = ["Điện lưới", "lưới", "Năng lượng mặt trời", "Máy nổ"]
    villages = layers["villages"].copy()
    villages["fiber"] = ["Có", "có", "x", "1", "Có", "Không", "Có", "không", "yes", "0"]
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "post_offices": posts,
                                           "bts_sites": sites, "villages": villages})
    ds = io.load(folder)
    assert ds["post_offices"]["kind"].tolist() == ["cap1", "bdvhx", "letterbox"]
    assert ds["bts_sites"]["power"].tolist() == ["grid", "grid", "solar", "diesel"]
    assert ds["villages"]["fiber"].sum() == 7


def test_empty_layer_and_missing_communes(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": layers["villages"].iloc[:0]})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    assert "villages.shp: the villages layer is empty" in problems_of(exc)
    other = write_layers(tmp_path / "e", {"villages": layers["villages"]})
    with pytest.raises(LayerError) as exc:
        io.load(other)
    assert any("no communes layer" in p for p in problems_of(exc))


def test_missing_crs_is_an_error_unless_stated(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    (folder / "communes.prj").unlink()
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    assert any("communes.shp: the layer has no CRS" in p for p in problems_of(exc))
    assert io.load(folder, crs="EPSG:9205")["communes"].crs.to_epsg() == 9205
    (folder / "layers.yaml").write_text("crs: EPSG:9205\n", encoding="utf-8")
    assert len(io.load(folder)["communes"]) == 4


def test_bad_crs_value_is_a_crs_error(tmp_path):
    folder = write_layers(tmp_path / "d", {"communes": tiny_layers()["communes"]})
    (folder / "communes.prj").unlink()
    with pytest.raises(CRSError):
        io.load(folder, crs="EPSG:not-a-code")


def test_invalid_geometry_is_repaired_with_a_warning(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"].copy()
    x, y = X0, Y0
    bowtie = shapely.Polygon([(x, y), (x + 5000, y + 5000), (x + 5000, y), (x, y + 5000), (x, y)])
    communes.loc[0, "geometry"] = bowtie
    folder = write_layers(tmp_path / "d", {"communes": communes})
    with pytest.warns(RepairWarning, match="communes.shp row 1: invalid geometry"):
        ds = io.load(folder)
    assert ds["communes"].geometry.is_valid.all()


def test_wrong_geometry_type_and_empty_geometry_are_refused(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    lines = layers["villages"].copy()  # a few lines among points: each one is a problem of its row
    lines = lines.set_geometry([shapely.LineString([(p.x, p.y), (p.x + 1, p.y)]) if i < 2 else p
                                for i, p in enumerate(lines.geometry)])
    lines.to_file(folder / "villages.geojson", engine="pyogrio")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    assert "villages.geojson row 1 (id V01), column geometry: geometry is a LineString, expected a Point" in \
        problems_of(exc)
    assert exc.value.problems[0].kind == "geometry_type"
    assert exc.value.problems[0].detail == {"found": "LineString", "expected": "Point"}


def test_points_uploaded_as_communes_are_one_problem(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["villages"], "villages": layers["villages"]})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    assert problems_of(exc) == ["communes.shp, column geometry: communes need polygons, this file has points "
                                "(10 of 10 features): is it the file of another layer?"]
    problem = exc.value.problems[0]
    assert problem.kind == "wrong_geometry_type"
    assert problem.detail == {"layer": "communes", "found": "Point", "expected": "Polygon", "count": 10,
                              "total": 10}


def test_polygons_as_villages_and_lines_as_sites_are_one_problem_each(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    layers["communes"].rename(columns={"code": "commune"}).assign(id=lambda f: f["commune"]).to_file(
        folder / "villages.gpkg", engine="pyogrio")
    layers["fiber_routes"].to_file(folder / "bts_sites.geojson", engine="pyogrio")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    kinds = [(p.file, p.kind, p.detail.get("found")) for p in exc.value.problems]
    assert kinds == [("bts_sites.geojson", "wrong_geometry_type", "LineString"),
                     ("villages.gpkg", "wrong_geometry_type", "Polygon")] or kinds == [
        ("villages.gpkg", "wrong_geometry_type", "Polygon"),
        ("bts_sites.geojson", "wrong_geometry_type", "LineString")]


def test_points_outside_the_province_and_unknown_commune_codes(tmp_path):
    layers = tiny_layers()
    villages = layers["villages"].copy()
    villages.loc[2, "geometry"] = shapely.Point(X0 + 60_000, Y0 + 60_000)
    villages.loc[7, "commune"] = "99999"
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"], "villages": villages})
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = problems_of(exc)
    assert any(p.startswith("villages.shp row 3 (id V03), column geometry: point lies outside the province") for p in
               text)
    assert "villages.shp row 8 (id V08), column commune: commune code '99999' matches no commune" in text


def test_lat_lon_swapped(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    v = to_crs(layers["villages"], 4326)
    v = v.set_geometry([shapely.Point(p.y, p.x) if i in (1, 4) else p for i, p in enumerate(v.geometry)])
    v.to_file(folder / "villages.geojson", engine="pyogrio")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = problems_of(exc)
    assert sum("look like latitude/longitude swapped" in p for p in text) == 2
    assert any(p.startswith("villages.geojson row 2, column geometry") for p in text)


def test_degrees_in_a_projected_crs(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"]})
    v = to_crs(layers["villages"], 4326).set_crs(9205, allow_override=True)
    v.to_file(folder / "villages.shp", engine="pyogrio")
    with pytest.raises(LayerError) as exc:
        io.load(folder)
    text = [p for p in problems_of(exc) if p.startswith("villages.shp: coordinates x 103.0")]
    assert len(text) == 1 and "look like degrees, but EPSG:9205 (VN-2000 / TM-3 103-00) is in metres" in text[0]
    assert "EPSG:4326 puts the data inside the province" in text[0]


def test_overlaps_and_gaps_are_reported_not_cleaned(tmp_path):
    layers = tiny_layers()
    communes = layers["communes"].copy()
    communes.loc[0, "geometry"] = communes.geometry[0].buffer(200, join_style="mitre")  # overlaps neighbours
    hole = shapely.box(X0 + 4000, Y0 + 4000, X0 + 6000, Y0 + 6000)
    communes["geometry"] = communes.geometry.difference(hole)
    folder = write_layers(tmp_path / "d", {"communes": communes})
    ds = io.load(folder)
    assert ds.topology.overlaps == 2
    # two 5 km × 200 m strips into the neighbours, less the 1 km × 200 m of each inside the hole
    assert ds.topology.overlap_area_km2 == pytest.approx(2 * (5 * 0.2 - 1 * 0.2), abs=1e-6)
    assert ds.topology.gaps == 1
    assert ds.topology.gap_area_km2 == pytest.approx(4.0, abs=1e-6)
    # the input polygons are kept as they are (cleaning is explicit)
    assert ds["communes"].geometry.area.sum() == pytest.approx(communes.geometry.area.sum())


def test_point_layer_without_commune_codes_gets_them_by_location(tmp_path):
    layers = tiny_layers()
    folder = write_layers(tmp_path / "d", {"communes": layers["communes"],
                                           "bts_sites": layers["bts_sites"]})
    ds = io.load(folder)
    assert ds["bts_sites"]["commune"].tolist() == ["03124", "03127", "03316", "03325"]


def test_write_layer_is_atomic_and_round_trips(tmp_path, tiny):
    path = io.write_layer(tiny["villages"], tmp_path / "out" / "villages.gpkg")
    back = gpd.read_file(path)
    assert back["name"].tolist() == tiny["villages"]["name"].tolist()
    assert [p.name for p in path.parent.iterdir()] == ["villages.gpkg"]


def test_validate_json_counts(tiny_dir):
    ds = io.load(tiny_dir)
    assert json.dumps({k: len(v) for k, v in ds.layers.items()})


def test_folder_not_found(tmp_path):
    with pytest.raises(LayerError, match="not a folder"):
        io.load(tmp_path / "nope")


def test_read_layer_alone_raises_at_once(tmp_path, tiny):
    path = tmp_path / "c.geojson"
    bad = tiny["communes"].drop(columns=["population"])
    bad.to_file(path, engine="pyogrio")
    with pytest.raises(LayerError, match="required attribute 'population'"):
        io.read_layer(path, "communes")
    assert isinstance(io.read_layer(Path(path).with_name("c.geojson"), "communes", fields={"population": "households"}),
                      gpd.GeoDataFrame)


def _legacy_dbf(folder: Path, frame: gpd.GeoDataFrame, encoder, *, cpg: str | None) -> Path:
    """Write a Shapefile whose DBF holds legacy bytes (written through Latin-1), with or without a .cpg."""
    out = frame.copy()
    for column in ("name", "district"):
        if column in out:
            out[column] = [encoder(v).decode("latin1") for v in out[column]]
    path = folder / "communes.shp"
    out.to_file(path, engine="pyogrio", encoding="latin1")
    folder.joinpath("communes.cpg").unlink(missing_ok=True)
    if cpg:
        folder.joinpath("communes.cpg").write_text(cpg, encoding="ascii")
    return path


@pytest.mark.parametrize("kind", ["tcvn3", "vni", "cp1258"])
def test_legacy_dbf_text_is_repaired(tmp_path, kind):
    from ictgis import encoding

    encoders = {"tcvn3": lambda s: encoding.encode_tcvn3(s, lowercase_fallback=True),
                "vni": encoding.encode_vni, "cp1258": encoding.encode_cp1258}
    communes = tiny_layers()["communes"]
    folder = tmp_path / kind
    folder.mkdir()
    _legacy_dbf(folder, communes, encoders[kind], cpg="1258" if kind == "cp1258" else None)
    with pytest.warns(RepairWarning, match=kind.upper()):
        ds = io.load(folder)
    assert ds["communes"]["name"].tolist() == ["Noong Bua", "Him Lam", "Nà Tấu", "Mường Phăng"]
    assert ds["communes"]["district"].iloc[0] == "Thành phố Điện Biên Phủ"
    assert ds["communes"]["kind"].tolist() == ["phuong", "phuong", "xa", "xa"]


def test_mapping_file_states_the_legacy_encoding(tmp_path):
    from ictgis import encoding

    communes = tiny_layers()["communes"].iloc[[2]]  # a single name: too little to detect from
    folder = tmp_path / "d"
    folder.mkdir()
    _legacy_dbf(folder, communes, encoding.encode_tcvn3, cpg=None)
    (folder / "layers.yaml").write_text("encoding: tcvn3\n", encoding="utf-8")
    with pytest.warns(RepairWarning):
        ds = io.load(folder)
    assert ds["communes"]["name"].tolist() == ["Nà Tấu"]


def test_utf8_dbf_without_cpg_is_read_as_utf8(tmp_path):
    communes = tiny_layers()["communes"]
    folder = tmp_path / "d"
    folder.mkdir()
    communes.to_file(folder / "communes.shp", engine="pyogrio", encoding="UTF-8")
    (folder / "communes.cpg").unlink()
    ds = io.load(folder)
    assert ds["communes"]["name"].tolist() == ["Noong Bua", "Him Lam", "Nà Tấu", "Mường Phăng"]


def test_missing_codes_are_one_problem_for_the_file(tmp_path):
    communes = tiny_layers()["communes"]
    communes["code"] = [None, "03127", "03316", "03325"]
    path = tmp_path / "all.gpkg"
    communes.to_file(path, layer="communes")
    with pytest.raises(LayerError) as info:
        io.read_layer(path, "communes", layer="communes")
    assert [str(p) for p in info.value.problems] == [
        "all.gpkg:communes, column code: 1 of 4 communes have no code (row 1); codes are not GSO 5-digit commune "
        "codes: run `ictgis match-codes all.gpkg --out all_gso.gpkg`"]


def test_load_reads_only_the_layers_asked_for(tmp_path):
    """`layers=` reads those layers and the communes, equal to a full read; a broken layer not asked for is not read
    (a command that needs three layers does not fail on a fourth), while a full read still reports it."""
    folder = write_layers(tmp_path / "d", tiny_layers())
    full = io.load(folder)
    assert {"communes", "villages", "bts_sites"} < set(full.layers)
    some = io.load(folder, layers=("villages", "bts_sites"))
    assert set(some.layers) == {"communes", "villages", "bts_sites"}
    for name in some.layers:
        pd.testing.assert_frame_equal(pd.DataFrame(some[name]), pd.DataFrame(full[name]))
    extra = sorted(set(full.layers) - set(some.layers))
    assert extra, "the fixture has layers beyond the three"
    source = Path(full.sources[extra[0]])
    for part in source.parent.glob(source.stem + ".*"):
        part.write_bytes(b"not a layer")
    assert set(io.load(folder, layers=("villages",)).layers) == {"communes", "villages"}
    with pytest.raises(LayerError):
        io.load(folder)
