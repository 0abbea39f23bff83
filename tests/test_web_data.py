"""The served dataset's derived values: computed once per dataset state, in a bounded cache."""

from __future__ import annotations

import json

from test_web import make_data

from ictgis_web import create_app, data


def app_with(tmp_path, **config):
    folder = make_data(tmp_path / "data")
    return create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "test",
                       "INSTANCE_PATH": str(tmp_path / "instance")} | config)


def test_memo_computes_once_per_dataset_state(tmp_path):
    app = app_with(tmp_path)
    calls = []
    with app.app_context():
        first = data.memo("x", lambda: calls.append(1) or "value")
        again = data.memo("x", lambda: calls.append(1) or "other")
    assert first == again == "value" and calls == [1]


def test_layer_variants_stay_within_the_memory_bound(tmp_path):
    """Every zoom × precision of every layer (what an anonymous visitor can ask for) fits the configured bytes."""
    bound = 50_000
    app = app_with(tmp_path, MEMO_MAX_BYTES=bound)
    client = app.test_client()
    sizes = []
    for layer in ("communes", "villages", "roads"):
        for zoom in range(0, 21, 4):
            for precision in range(1, 8):
                resp = client.get(f"/api/layers/{layer}.geojson?zoom={zoom}&precision={precision}")
                assert resp.status_code == 200
                json.loads(resp.get_data(as_text=True))
                sizes.append(len(resp.get_data()))
    assert sum(sizes) > 2 * bound  # without a bound, the cache would hold more than that
    cache = app.extensions["ictgis_memo"]
    assert 0 < cache.currsize <= bound


def test_forget_drops_derived_values(tmp_path):
    app = app_with(tmp_path)
    with app.app_context():
        data.memo("x", lambda: "one")
        data.forget()
        assert data.memo("x", lambda: "two") == "two"
