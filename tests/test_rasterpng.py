"""The warp-to-PNG helper: classes, PNG encoding (decoded back), warps to EPSG:3857 / 4326 and their bounds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from ictgis.coverage import RSRP_CLASSES
from ictgis.rasterpng import (
    class_index,
    class_palette,
    classed_png,
    classify,
    encode_png,
    latlon_bounds,
    warp,
    warp_classes,
)

# 10 × 8 cells of 90 m in VN-2000 / TM-3 103-00 near Điện Biên Phủ
TRANSFORM = Affine(90.0, 0.0, 500_000.0, 0.0, -90.0, 2_370_000.0)


def decode(png: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the PNG carries no georeferencing, by design
        with MemoryFile(png) as mem, mem.open() as src:
            assert src.driver == "PNG"
            return src.read()


def test_classify_takes_the_first_class_reached():
    values = np.array([[-70.0, -80.0, -85.0], [-114.9, -116.0, np.nan]])
    img = classify(values, RSRP_CLASSES)
    assert img.shape == (2, 3, 4) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == tuple(img[0, 1]) == (0, 104, 55, 210)   # -80 is in the best class
    assert tuple(img[0, 2]) == (26, 152, 80, 200)
    assert tuple(img[1, 0]) == (254, 224, 139, 150)
    assert tuple(img[1, 1]) == tuple(img[1, 2]) == (0, 0, 0, 0)       # below the last class, no signal


def test_class_index_and_palette_give_the_image_of_classify():
    rng = np.random.default_rng(7)
    values = rng.uniform(-135.0, -60.0, size=(40, 30)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[0, :6] = [-80.0, -90.0, -100.0, -110.0, -115.0, -115.001]  # the bounds themselves and just below
    idx = class_index(values, RSRP_CLASSES)
    assert idx.dtype == np.uint8 and set(np.unique(idx).tolist()) == set(range(len(RSRP_CLASSES) + 1))
    assert np.array_equal(class_palette(RSRP_CLASSES)[idx], classify(values, RSRP_CLASSES))
    shuffled = [RSRP_CLASSES[k] for k in (2, 0, 4, 1, 3)]  # not sorted: still the first class reached
    assert np.array_equal(class_palette(shuffled)[class_index(values, shuffled)], classify(values, shuffled))


@pytest.mark.parametrize(("dst_crs", "max_px"), [("EPSG:4326", 4096), ("EPSG:4326", 37), ("EPSG:3857", 23)])
def test_warp_classes_gives_the_classes_of_the_max_warp(dst_crs, max_px):
    rng = np.random.default_rng(max_px)
    values = rng.uniform(-130.0, -70.0, size=(90, 75)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:20, :30] = np.nan  # a corner of no data, and lone NaN cells among values
    values[60:, 50:] = -125.0  # valid but below the last class
    got, got_transform = warp_classes(values, RSRP_CLASSES, transform=TRANSFORM, crs="EPSG:9205", dst_crs=dst_crs,
                                      max_px=max_px)
    warped, transform = warp(values, transform=TRANSFORM, crs="EPSG:9205", dst_crs=dst_crs, max_px=max_px,
                             resampling="max")
    expected = class_index(warped, RSRP_CLASSES)
    assert got_transform == transform and got.dtype == np.uint8
    assert len(np.unique(expected)) >= 4 and (expected == len(RSRP_CLASSES)).any()  # classes, and pixels of none
    np.testing.assert_array_equal(got, expected)


def test_encode_png_with_a_colour_map_is_a_paletted_png_with_alpha():
    pil = pytest.importorskip("PIL.Image")  # an independent decoder: PLTE + tRNS give the RGBA of the palette
    import io

    values = np.array([[-70.0, -85.0, -95.0], [-105.0, -115.0, np.nan]], dtype=np.float32)
    idx, palette = class_index(values, RSRP_CLASSES), class_palette(RSRP_CLASSES)
    png = encode_png(idx, colormap=palette)
    image = pil.open(io.BytesIO(png))
    assert image.mode == "P"
    assert np.array_equal(np.asarray(image.convert("RGBA")), classify(values, RSRP_CLASSES))
    assert np.array_equal(decode(png)[0], idx)
    with pytest.raises(ValueError, match="one band"):
        encode_png(np.zeros((2, 3, 4), dtype=np.uint8), colormap=palette)


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_encode_png_decodes_to_the_same_bytes(count):
    rng = np.random.default_rng(count)
    bands = rng.integers(0, 256, size=(count, 7, 5), dtype=np.uint8)
    assert np.array_equal(decode(encode_png(bands)), bands)


def test_encode_png_takes_one_band_as_2d_and_refuses_other_shapes():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(decode(encode_png(grey))[0], grey)
    with pytest.raises(ValueError, match="1 to 4 bands"):
        encode_png(np.zeros((5, 3, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="1 to 4 bands"):
        encode_png(np.zeros(5, dtype=np.uint8))


@pytest.mark.parametrize("dst_crs", ["EPSG:3857", "EPSG:4326"])
def test_warp_keeps_values_and_nodata(dst_crs):
    values = np.full((8, 10), -95.0, dtype=np.float32)
    values[:, :5] = -75.0
    values[:4, :4] = np.nan  # a lone NaN cell may vanish: `max` takes the best value a pixel covers
    warped, transform = warp(values, transform=TRANSFORM, crs="EPSG:9205", dst_crs=dst_crs, max_px=1600)
    assert warped.dtype == np.float32 and transform.e < 0 < transform.a
    assert set(np.unique(warped[~np.isnan(warped)])) == {-95.0, -75.0}
    assert np.isnan(warped[:2, :2]).all() and not np.isnan(warped[-2:, -2:]).any()
    rows, cols = warped.shape
    assert warped[rows // 2, cols // 4] == -75.0 and warped[rows // 2, 3 * cols // 4] == -95.0


def test_warp_shrinks_to_max_px():
    values = np.zeros((200, 300), dtype=np.float32)
    warped, _ = warp(values, transform=TRANSFORM, crs="EPSG:9205", dst_crs="EPSG:4326", max_px=100)
    assert max(warped.shape) <= 110 and min(warped.shape) >= 50


def test_classed_png_is_an_rgba_image_with_lat_lon_bounds():
    values = np.full((8, 10), -85.0, dtype=np.float32)
    png, bounds = classed_png(values, transform=TRANSFORM, crs="EPSG:9205", classes=RSRP_CLASSES)
    img = decode(png)
    assert img.shape[0] == 4
    inside = img[:, img.shape[1] // 2, img.shape[2] // 2]
    assert tuple(inside) == (26, 152, 80, 200)
    (south, west), (north, east) = bounds
    # the grid is about 0.0087° wide, 0.0065° high, just east of 103° E at 21.42° N (VN-2000 → WGS 84 shift)
    assert 103.0 < west < east < 103.02 and 21.41 < south < north < 21.43
    assert east - west == pytest.approx(900 / 103_650, rel=0.05)


def test_latlon_bounds_in_degrees_are_the_grid_edges():
    transform = Affine(0.01, 0.0, 103.0, 0.0, -0.01, 21.5)
    assert latlon_bounds(transform, 10, 20, "EPSG:4326") == [[21.3, 103.0], [21.5, 103.1]]


def test_the_png_needs_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'matplotlib': raise ImportError('matplotlib is blocked')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import numpy as np\nfrom affine import Affine\n"
            "from ictgis.rasterpng import classed_png\n"
            "from ictgis.coverage import RSRP_CLASSES\n"
            "png, _ = classed_png(np.full((4, 4), -70.0), transform=Affine(90, 0, 5e5, 0, -90, 2.37e6),\n"
            "                     crs='EPSG:9205', classes=RSRP_CLASSES)\n"
            "assert png[1:4] == b'PNG' and 'matplotlib' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)

