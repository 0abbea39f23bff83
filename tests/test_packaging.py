"""What an installed ictgis is: a wheel carries ``ictgis_web`` (no top-level ``web``), Leaflet/jQuery and the example
scenarios; it runs ``ictgis coverage`` (GeoTIFF and KMZ) and ``ictgis serve`` without matplotlib or the source tree.
Missing front-end assets are said on the map page and in the log."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import warnings
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from test_web import make_data

from ictgis_web import create_app

#: Packages of the ``test`` extra that are neither core nor ``web`` dependencies: hidden in the installed venv.
TEST_ONLY = ("matplotlib", "pytest", "_pytest", "playwright")  # jsonschema: pygeoapi needs it (web)
#: What the wheel is built from (the rest of the tree — data, tests, caches, the venv — stays out of the copy).
SOURCE = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "package.json", "package-lock.json", "ictgis",
          "web", "scenarios")


def fake_vendor(folder: Path) -> Path:
    for name in ("leaflet/dist/leaflet.js", "leaflet/dist/leaflet.css", "jquery/dist/jquery.min.js"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("/* stand-in */\n", encoding="utf-8")
    return folder


@pytest.fixture()
def vendor_app(tmp_path):
    def factory(vendor_dir: Path):
        return create_app({"TESTING": True, "DATA_DIR": str(make_data(tmp_path / "data")), "SECRET_KEY": "test",
                           "INSTANCE_PATH": str(tmp_path / "instance"), "VENDOR_DIR": str(vendor_dir),
                           "SCENARIOS_DIR": str(tmp_path / "scenarios")})
    return factory


def test_missing_front_end_assets_are_said_on_the_page_and_in_the_log(vendor_app, tmp_path, caplog):
    empty = tmp_path / "no_vendor"
    empty.mkdir()
    with caplog.at_level(logging.ERROR, logger="ictgis_web"):
        app = vendor_app(empty)
    assert any("leaflet/dist/leaflet.js" in r.getMessage() and str(empty) in r.getMessage() for r in caplog.records)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'id="ictgis-vendor-missing"' in page and "Thiếu thư viện bản đồ" in page and "npm ci" in page
    assert "Leaflet, jQuery) are missing" in client.get("/?lang=en").get_data(as_text=True)
    resp = client.get("/vendor/leaflet/leaflet.js", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and "npm ci" in resp.get_json()["message"]


def test_present_front_end_assets_give_no_warning(vendor_app, tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="ictgis_web"):
        app = vendor_app(fake_vendor(tmp_path / "vendor"))
    assert not caplog.records
    client = app.test_client()
    assert "ictgis-vendor-missing" not in client.get("/").get_data(as_text=True)
    assert client.get("/vendor/leaflet/leaflet.js").get_data(as_text=True) == "/* stand-in */\n"


def test_web_is_installed_as_ictgis_web():
    import ictgis_web
    from ictgis_web import jobs

    assert Path(ictgis_web.__file__).resolve() == ROOT / "web" / "__init__.py"
    assert jobs.logger.name == "ictgis_web.jobs"


# ------------------------------------------------------------------------------------ the installed package
def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / "python"


def _venv_site_packages(venv: Path) -> Path:
    out = subprocess.run([_venv_python(venv), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True, env=_clean_env())
    return Path(out.stdout.strip())


def _clean_env() -> dict[str, str]:
    """The environment without anything pointing at the source tree."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel built from this tree (no deps, no index); the dependencies are this
    environment's packages, reached through a ``.pth`` file, with the test-only ones (matplotlib …) blocked."""
    if not (ROOT / "node_modules" / "leaflet" / "dist" / "leaflet.js").exists():
        pytest.skip("node_modules/leaflet is missing: run `npm ci` (make install does)")
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCE:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vendor"))
        elif path.exists():
            shutil.copy2(path, src / name)
    for name in ("leaflet", "jquery"):
        shutil.copytree(ROOT / "node_modules" / name, src / "node_modules" / name)
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--disable-pip-version-check", "-w", str(tmp / "dist"), str(src)],
                   check=True, cwd=tmp, env=env)
    wheels = list((tmp / "dist").glob("ictgis-*.whl"))
    assert len(wheels) == 1
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)  # pip from ensurepip: offline
    # before the dependencies are made visible: the new venv sees no other ictgis, so the wheel goes in
    subprocess.run([_venv_python(venv), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                    "--disable-pip-version-check", str(wheels[0])], check=True, cwd=tmp, env=env)
    site = _venv_site_packages(venv)
    # the dependencies: this environment's site-packages, after the venv's own (a path line: its .pth files, such
    # as an editable ictgis's finder, are not run)
    deps = [p for p in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")} if p != str(site)]
    (site / "zz_ictgis_test_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    (site / "_ictgis_test_block.py").write_text(
        "import sys\n"
        f"BLOCKED = {TEST_ONLY!r}\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is hidden: not a dependency of ictgis[web]')\n"
        "sys.meta_path.insert(0, _Block())\n", encoding="utf-8")
    (site / "aa_ictgis_test_block.pth").write_text("import _ictgis_test_block\n", encoding="utf-8")
    return {"venv": venv, "site": site, "tmp": tmp, "wheel": wheels[0], "env": env}


def _run(installed, *args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=installed["tmp"], env=installed["env"], capture_output=True, text=True,
                          timeout=600, **kwargs)


@pytest.mark.slow
def test_the_wheel_carries_ictgis_web_its_assets_and_scenarios(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"ictgis", "ictgis_web"}  # no top-level "web"
    for name in ("ictgis_web/static/vendor/leaflet/dist/leaflet.js", "ictgis_web/static/vendor/leaflet/LICENSE",
                 "ictgis_web/static/vendor/leaflet/dist/images/marker-icon.png",
                 "ictgis_web/static/vendor/jquery/dist/jquery.min.js", "ictgis_web/scenarios/plan-2022.yaml",
                 "ictgis_web/templates/base.html", "ictgis/py.typed", "ictgis/rasterpng.py"):
        assert name in names


@pytest.mark.slow
def test_the_installed_package_imports_from_the_venv_with_its_own_defaults(installed):
    code = ("import importlib.util, json, os, ictgis, ictgis_web\n"
            "try:\n    import matplotlib\n    mpl = True\nexcept ImportError:\n    mpl = False\n"
            "app = ictgis_web.create_app({'INSTANCE_PATH': os.path.abspath('instance_defaults')})\n"
            "print(json.dumps({'ictgis': ictgis.__file__, 'ictgis_web': ictgis_web.__file__, 'matplotlib': mpl,\n"
            "                  'web': importlib.util.find_spec('web') is not None,\n"
            "                  'scenarios': app.config['SCENARIOS_DIR'], 'vendor': app.config['VENDOR_DIR']}))\n")
    out = _run(installed, str(_venv_python(installed["venv"])), "-c", code)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    site = installed["site"].resolve()
    assert Path(found["ictgis"]).resolve().is_relative_to(site)
    assert Path(found["ictgis_web"]).resolve().is_relative_to(site)
    assert found["matplotlib"] is False and found["web"] is False
    assert not (site / "web").exists()
    # the defaults of an installed app: the scenarios and the front-end assets shipped in the package
    assert Path(found["scenarios"]) == site / "ictgis_web" / "scenarios"
    assert (Path(found["scenarios"]) / "plan-2022.yaml").is_file()
    assert Path(found["vendor"]) == site / "ictgis_web" / "static" / "vendor"


@pytest.mark.slow
def test_the_installed_command_writes_coverage_and_its_kmz_without_matplotlib(installed):
    data = make_data(installed["tmp"] / "data")
    out = installed["tmp"] / "coverage"
    ictgis = installed["venv"] / "bin" / "ictgis"
    run = _run(installed, str(ictgis), "coverage", str(data), "--tech", "4g", "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "rsrp_4g.tif").stat().st_size > 0
    with zipfile.ZipFile(out / "coverage_4g.kmz") as kmz:
        assert "<GroundOverlay>" in kmz.read("doc.kml").decode()
        png = kmz.read("rsrp.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the KMZ places the PNG; it has no geotransform
        with MemoryFile(png) as mem, mem.open() as img:
            count, index, palette = img.count, img.read(1), img.colormap(1)  # paletted: class numbers, RGBA
    alphas = {palette[k][3] for k in set(index.ravel().tolist())}
    assert count == 1 and max(alphas) > 0 and min(alphas) == 0  # classes drawn, transparent elsewhere
    assert "matplotlib" not in run.stderr


def test_the_installed_package_carries_the_store_migrations(installed):
    data = make_data(installed["tmp"] / "store-data")
    db = installed["tmp"] / "ictgis.gpkg"
    ictgis = str(installed["venv"] / "bin" / "ictgis")
    init = _run(installed, ictgis, "db", "init", "--db", str(db))
    head = max(p.name[:4] for p in (ROOT / "ictgis" / "store" / "migrations" / "versions").glob("[0-9]*.py"))
    assert init.returncode == 0 and f"schema revision {head}" in init.stdout, init.stdout + init.stderr
    done = _run(installed, ictgis, "db", "import", str(data), "--db", str(db), "--author", "a", "--message", "m")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_installed_server_serves_the_page_and_its_assets(installed):
    data = make_data(installed["tmp"] / "serve_data")
    ictgis = installed["venv"] / "bin" / "ictgis"
    proc = subprocess.Popen([str(ictgis), "serve", "--data", str(data), "--port", "0", "--threads", "2",
                             "--instance", str(installed["tmp"] / "instance")],
                            cwd=installed["tmp"], env=installed["env"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"on (http://[\d.]+:\d+/)", line)
            url = found.group(1) if found else None
        assert url, "the server did not start"

        def get(path: str) -> tuple[int, bytes]:
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=120) as resp:
                return resp.status, resp.read()

        status, body = get("/")
        page = body.decode("utf-8")
        assert status == 200 and "ictgis-vendor-missing" not in page
        assets = set(re.findall(r'(?:src|href)="(/(?:vendor|static)/[^"]+)"', page))
        assert {a for a in assets if a.startswith("/vendor/leaflet/")} >= {"/vendor/leaflet/leaflet.js",
                                                                          "/vendor/leaflet/leaflet.css"}
        for asset in sorted(assets | {"/vendor/jquery/jquery.min.js", "/vendor/leaflet/images/marker-icon.png"}):
            status, body = get(asset.replace("&amp;", "&"))
            assert status == 200 and body, asset
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()

