# Two commands do everything on a fresh machine: `make run` (install, then serve the demo map) and
# `make test` (install, then run the test suite). Both go through `make install`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= data/shapefiles
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: install run test lint bench demo clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Python packages from PyPI (lower bounds in pyproject.toml), the package itself in editable mode.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --prefer-binary -e ".[web,test]"
	$(BIN)/python -c "import ictgis, geopandas, rasterio, flask, folium, waitress"
	touch $@

# Leaflet and jQuery from the npm registry (package-lock.json), served by Flask: the map works offline.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

run: install
	$(BIN)/ictgis serve --data $(DATA) --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check ictgis web tests $(wildcard benchmarks)

bench: install
	@for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

demo: install
	$(BIN)/ictgis demo --out $(DATA)

clean-venv:
	rm -rf $(VENV) node_modules
