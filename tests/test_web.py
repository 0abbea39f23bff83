"""The first web page: the map of the layers, served offline; the JSON API."""

from __future__ import annotations

import json
import re

import pytest

from web import create_app


@pytest.fixture()
def app(tiny_dir, tmp_path):
    return create_app({"TESTING": True, "DATA_DIR": str(tiny_dir), "SECRET_KEY": "test"})


@pytest.fixture()
def client(app):
    return app.test_client()


def test_map_page_is_vietnamese_and_offline(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Bản đồ hạ tầng thông tin và truyền thông" in html
    assert _has_label(html, "Thôn, bản") and _has_label(html, "Trạm BTS")
    # every script and stylesheet is served locally: no CDN, no other host
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") or u.startswith("?") for u in urls), urls
    assert not re.findall(r"https?://", html)


def _has_label(html: str, label: str) -> bool:
    """Folium writes layer names as JS strings with \\u escapes."""
    return label in html or json.dumps(label) in html


def test_english_switch(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and _has_label(html, "Villages") and "Tiếng Việt" in html


def test_vendor_assets_are_served(client, app):
    from pathlib import Path

    if not (Path(app.config["VENDOR_DIR"]) / "leaflet").exists():
        pytest.skip("npm assets not installed (make install runs npm ci)")
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/vendor/jquery/jquery.min.js").status_code == 200
    assert client.get("/vendor/nope/x.js").status_code == 404
    assert client.get("/vendor/leaflet/../../package.json").status_code == 404


def test_api_indicators_contract(client):
    data = client.get("/api/indicators").get_json()
    assert data["postal"]["service_points"] == 3
    assert client.get("/api/indicators?structure=2025").get_json()["province"]["districts"] is None
    bad = client.get("/api/indicators?structure=1999")
    assert bad.status_code == 400 and bad.get_json()["error"] == "BadRequest"


def test_api_unknown_is_json_404(client):
    resp = client.get("/api/nothing-here")
    assert resp.status_code == 404 and resp.get_json()["error"] == "NotFound"


def test_names_are_escaped_in_popups(tmp_path):
    from conftest import tiny_layers, write_layers

    layers = tiny_layers()
    layers["communes"].loc[0, "name"] = "<script>alert(1)</script>"
    folder = write_layers(tmp_path / "x", layers)
    client = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "t"}).test_client()
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
