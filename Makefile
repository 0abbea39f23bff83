# Two commands do everything on a fresh machine: `make run` (install, then serve the demo map) and
# `make test` (install, then run the test suite). Both go through `make install`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data/shapefiles
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: install run test lint bench demo wheel clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Python packages from PyPI (lower bounds in pyproject.toml), the package itself in editable mode (web/ is imported as
# ictgis_web; the app reads Leaflet/jQuery from node_modules/ of the tree).
$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --prefer-binary -e ".[web,test]"
	$(BIN)/python -c "import ictgis, ictgis_web, geopandas, rasterio, flask, folium, waitress"
	touch $@

# Leaflet and jQuery from the npm registry (package-lock.json), served by Flask: the map works offline.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: node_modules/.installed $(VENV)/.installed

# A wheel for servers (pip install "dist/ictgis-<version>-py3-none-any.whl[web]"): built after npm ci, it carries
# Leaflet, jQuery and the example scenarios (setup.py).
wheel: install
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w dist .

run: install
	$(BIN)/ictgis serve --data $(DATA) --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

# ruff on everything; mypy (default checks, configured in pyproject.toml) on the engine.
lint: install
	$(BIN)/ruff check ictgis web tests $(wildcard benchmarks)
	$(BIN)/python -m mypy ictgis

bench: install
	@for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

demo: install
	$(BIN)/ictgis demo --out $(DATA)

clean-venv:
	rm -rf $(VENV) node_modules
