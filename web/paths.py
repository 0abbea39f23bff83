"""Paths as users may see them: relative to the instance (or named by their folder), never absolute.

Error messages, problem lists and run progress come from the engine, which names files by their full path (the
instance folder, the data folder, the source tree …). `public` rewrites every such path before it reaches a page
or a JSON answer:

- a path inside the instance folder or the source tree becomes relative to it (``datasets/3/villages.shp``);
- a path inside the data folder or the scenarios folder starts with that folder's name (``shapefiles/roads.shp``);
- any other absolute path keeps only its last part (``/usr/lib/…/x.so`` → ``x.so``).

`is_public_file` tells whether a file name asked for in a URL may be served from a dataset version folder (no dot
segments, no hidden files, no metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from flask import current_app, has_app_context

#: Any absolute POSIX path of at least two parts not glued to a word, a URL scheme or another path.
_ABSOLUTE = re.compile(r"(?<![\w.~:/\\-])/(?:[^\s/\"'<>(),;:]+/)+([^\s/\"'<>(),;:]*)")
_SOURCE_TREE = Path(__file__).resolve().parent.parent


def hidden_roots(config: dict, instance_path: str) -> list[tuple[str, str]]:
    """Return ``(absolute folder, label)`` pairs to hide, longest first (both as configured and resolved).

    Parameters
    ----------
    config
        The app's configuration (``DATA_DIR``, ``SCENARIOS_DIR``, ``VENDOR_DIR``).
    instance_path
        The app's instance folder.
    """
    named = [(instance_path, ""), (str(_SOURCE_TREE), "")]
    for key in ("DATA_DIR", "SCENARIOS_DIR", "VENDOR_DIR"):
        if config.get(key):
            named.append((str(config[key]), Path(str(config[key])).name))
    pairs: dict[str, str] = {}
    for folder, label in named:
        for form in {str(Path(folder)), str(Path(folder).resolve())}:
            if form not in ("/", "") and form not in pairs:
                pairs[form] = label
    return sorted(pairs.items(), key=lambda p: len(p[0]), reverse=True)


def public_text(text: str, roots: Iterable[tuple[str, str]]) -> str:
    """Rewrite the absolute paths in `text` (see the module docstring) with the given roots.

    Parameters
    ----------
    text
        A message.
    roots
        ``(absolute folder, label)`` pairs, longest first (`hidden_roots`).

    Returns
    -------
    str
    """
    for folder, label in roots:
        text = text.replace(folder + "/", f"{label}/" if label else "")
        text = re.sub(re.escape(folder) + r"(?![\w.-])", label or ".", text)
    return _ABSOLUTE.sub(lambda m: m.group(1) or "…", text)


def public(text: object) -> str:
    """Return `text` (any object, as ``str``) with the paths of this app's folders hidden.

    Outside an app context only the generic rule applies (absolute paths keep their last part).
    """
    roots = hidden_roots(current_app.config, current_app.instance_path) if has_app_context() else []
    return public_text(str(text), roots)


def public_fields(record: dict, keys: Iterable[str] = ("message", "error")) -> dict:
    """Return a copy of `record` whose text fields `keys` pass through `public`."""
    return record | {k: public(record[k]) for k in keys if isinstance(record.get(k), str) and record[k]}


def is_public_file(filename: str, *, hidden: Iterable[str] = ()) -> bool:
    """Tell whether a relative file name from a URL may be served: no empty, dot or hidden parts, not `hidden`.

    Parameters
    ----------
    filename
        The name as asked (``"villages.shp"``, ``"sub/x.csv"``).
    hidden
        Names never served (metadata files), compared without case.
    """
    parts = filename.replace("\\", "/").split("/")
    if not filename or any(not p or p.startswith(".") for p in parts):
        return False
    return parts[-1].lower() not in {h.lower() for h in hidden}
