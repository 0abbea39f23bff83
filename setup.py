"""Build steps pyproject.toml cannot express (the metadata is in pyproject.toml).

- ``web/`` is installed as the package ``ictgis_web`` (no generic top-level ``web`` in site-packages);
- a built package (wheel, or a wheel built from the sdist) carries the front-end assets installed by ``npm ci``
  (Leaflet and jQuery, from ``node_modules/<name>/dist`` with their licence) in ``ictgis_web/static/vendor/`` and
  the example scenario files in ``ictgis_web/scenarios/``. Build after ``npm ci`` (``make wheel``); without
  ``node_modules`` the build warns and the map page of the installed package says the assets are missing.

An editable install (``make install``) copies nothing: the app falls back to ``node_modules/`` and ``scenarios/``
of the source tree.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: npm package → what the built package carries from node_modules/<name>/
VENDOR = {"leaflet": ("dist", "LICENSE"), "jquery": ("dist", "LICENSE.txt")}
SCENARIO_FILES = ("*.yaml", "*.yml", "*.json")

log = logging.getLogger("ictgis.setup")


class BuildPyWithAssets(build_py):
    """``build_py`` that adds the npm assets and the example scenarios to ``ictgis_web`` in the build folder."""

    def run(self) -> None:
        """Build as usual, then copy the assets (not for an editable install: it reads them from the tree)."""
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "ictgis_web"
        vendor = target / "static" / "vendor"
        shutil.rmtree(vendor, ignore_errors=True)
        for name, parts in VENDOR.items():
            source = HERE / "node_modules" / name
            if not (source / "dist").is_dir():
                log.warning("node_modules/%s is missing: the built package has no %s (run `npm ci` first); "
                            "its map page will say so", name, name)
                continue
            for part in parts:
                if (source / part).is_dir():
                    shutil.copytree(source / part, vendor / name / part)
                elif (source / part).is_file():
                    (vendor / name).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source / part, vendor / name / part)
        scenarios = target / "scenarios"
        shutil.rmtree(scenarios, ignore_errors=True)
        files = [f for pattern in SCENARIO_FILES for f in sorted((HERE / "scenarios").glob(pattern))]
        if files:
            scenarios.mkdir(parents=True)
            for f in files:
                shutil.copy2(f, scenarios / f.name)


setup(
    packages=[*find_packages(include=["ictgis", "ictgis.*"]), "ictgis_web",
              *(f"ictgis_web.{p}" for p in find_packages(where="web"))],
    package_dir={"ictgis_web": "web"},
    cmdclass={"build_py": BuildPyWithAssets},
)
