"""Deprecated: results computed once per dataset state, in a background thread, for cheap map providers.

Only `ictgis.scenario_fiber.planned_routes` still imports this module, and nothing calls that function any more:
the web map's background work and caches are in `web.analyses` (planned routes: `ictgis.fiber.planned_routes`).
Delete this module together with ``scenario_fiber.planned_routes`` and ``scenario_fiber._plans`` when the
scenario package lands (issue 11 §2); the engine starts no threads and keeps no result caches.

The web map asks analysis modules for layers through providers that must answer at once. `BackgroundCache.get`
returns the cached value of a key, or starts computing it in a daemon thread and returns None ("not available
yet"); `generation()` grows whenever a value lands, so web caches can key on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_generation = 0
_generation_lock = threading.Lock()
_threads: list[threading.Thread] = []


def wait_all(timeout_s: float | None = None) -> None:
    """Wait for every background computation started so far (tests and shutdown hooks call this)."""
    for thread in list(_threads):
        thread.join(timeout_s)


def generation() -> int:
    """Return a counter that grows whenever any background value lands."""
    return _generation


def dataset_stamp(ds: Any) -> tuple:
    """Return a key for a dataset's state: its folder and the modification times of its files."""
    folder = Path(ds.data_dir) if getattr(ds, "data_dir", None) else None
    if folder is None or not folder.is_dir() or getattr(ds, "derived", False):  # a changed copy: its own key
        return (id(ds),)
    return (str(folder.resolve()), tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()
                                                if p.is_file())))


class BackgroundCache:
    """A small cache of values computed in background threads.

    Parameters
    ----------
    name
        Used in thread names and log messages.
    max_items
        The cache is emptied when it grows past this.
    """

    def __init__(self, name: str, *, max_items: int = 4):
        self.name = name
        self.max_items = max_items
        self._values: dict[Hashable, Any] = {}
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()

    def peek(self, key: Hashable) -> Any:
        """Return the cached value or None, computing nothing."""
        with self._lock:
            return self._values.get(key)

    def pop(self, key: Hashable) -> None:
        """Forget a key."""
        with self._lock:
            self._values.pop(key, None)

    def get(self, key: Hashable, compute: Callable[[], Any], *, wait: bool = False) -> Any:
        """Return the value of `key`, computing it in the background (or now, with `wait`) when missing."""
        with self._lock:
            if key in self._values:
                return self._values[key]
            start = key not in self._pending
            if start:
                self._pending.add(key)

        def work() -> None:
            global _generation
            try:
                value = compute()
                with self._lock:
                    if len(self._values) >= self.max_items:
                        self._values.clear()
                    self._values[key] = value
                with _generation_lock:
                    _generation += 1
            except Exception:  # a failed background computation must not kill the server; it is logged
                logger.exception("%s: background computation failed", self.name)
            finally:
                with self._lock:
                    self._pending.discard(key)

        if not wait:
            if start:
                thread = threading.Thread(target=work, name=f"ictgis-{self.name}", daemon=True)
                _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
                thread.start()
            return None
        if start:
            work()
        else:
            while True:
                with self._lock:
                    if key not in self._pending:
                        break
                time.sleep(0.2)
        return self.peek(key)
