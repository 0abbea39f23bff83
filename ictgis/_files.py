"""Atomic output: write to a temporary name beside the target, then move it into place.

The temporary files and folders are created with the ordinary modes (``0o666`` and ``0o777`` less the umask: 0644
and 0755 under umask 022), not the private ones of :func:`tempfile.mkstemp` and :func:`tempfile.mkdtemp`, so
outputs moved into place are readable like any file the user writes. The kernel applies the umask at creation;
it is never changed (changing it would race with other threads).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def _unique(parent: Path, prefix: str, suffix: str, create) -> Path:
    """Create a new entry ``parent/prefix<random>suffix`` with `create`; retry on a name already taken."""
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name in {parent}")  # pragma: no cover - 100 collisions


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def _new_dir(path: Path) -> None:
    os.mkdir(path, 0o777)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success move it onto `path`, on failure remove it.

    The temporary file exists (empty) when the block starts, with mode ``0o666`` less the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _unique(path.parent, f".{path.name}.", path.suffix, _new_file)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, merge: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it becomes `path`, on failure it is removed.

    The temporary folder has mode ``0o777`` less the umask (0755 under umask 022).

    Parameters
    ----------
    path
        The output folder.
    merge
        When `path` exists: False replaces it whole (the old one is removed only after the new one is in place);
        True moves the new files into it, replacing files of the same name and keeping the others.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _unique(path.parent, f".{path.name}.partial-", "", _new_dir)
    try:
        yield tmp
        if not path.exists():
            os.replace(tmp, path)
        elif merge:
            for part in tmp.iterdir():
                os.replace(part, path / part.name)
        else:
            trash = _unique(path.parent, f".{path.name}.old-", "", _new_dir)
            os.replace(path, trash / "old")
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
