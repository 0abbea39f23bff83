"""Load and cache the dataset a web app serves (one load per data folder and modification time)."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

from flask import current_app

from ictgis import io

_lock = threading.Lock()
_cache: dict[tuple[str, float], io.Dataset] = {}


def dataset() -> io.Dataset:
    """Return the app's dataset, loading it once per change of the data folder."""
    folder = Path(current_app.config["DATA_DIR"])
    stamp = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0) if folder.is_dir() else 0.0
    key = (str(folder.resolve()), stamp)
    with _lock:
        if key not in _cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _cache.clear()
                _cache[key] = io.load(folder)
        return _cache[key]
