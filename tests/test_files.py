"""Atomic outputs (`ictgis._files`) have the ordinary modes the umask gives, in the helpers and in real outputs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import tiny_layers, write_layers
from test_coverage import write_dem

from ictgis._files import atomic_dir, atomic_path
from ictgis.cli import main


@pytest.fixture()
def umask():
    """Set the process umask for one test (022 unless the test sets another), then restore it."""
    before = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    """Mode of `folder` and of everything in it, by name relative to its parent."""
    return {str(p.relative_to(folder.parent)): mode(p) for p in [folder, *sorted(folder.rglob("*"))]}


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_helpers_respect_the_umask(umask, tmp_path, mask, file_mode, dir_mode):
    umask(mask)
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    with atomic_dir(tmp_path / "new") as tmp:
        (tmp / "f.csv").write_text("x")
    with atomic_dir(tmp_path / "new") as tmp:  # replaces the folder whole
        (tmp / "g.csv").write_text("y")
    assert mode(tmp_path / "a.txt") == file_mode
    assert modes(tmp_path / "new") == {"new": dir_mode, "new/g.csv": file_mode}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "new"]  # no temporaries left


def test_atomic_path_and_dir_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "d") as tmp:
        (tmp / "f").write_text("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_fiber_coverage_and_postal_outputs_are_0644_in_0755_folders(umask, tmp_path):
    data = write_layers(tmp_path / "tiny", tiny_layers())
    write_dem(data)
    runner = CliRunner()
    for command, *options in (["fiber", "--no-coverage"], ["coverage", "--tech", "4g", "--resolution-m", "100"],
                              ["postal"]):
        out = tmp_path / command
        result = runner.invoke(main, [command, str(data), "--out", str(out), *options])
        assert result.exit_code == 0, result.output
        found = modes(out)
        assert len(found) > 3, found
        expected = {name: 0o755 if (tmp_path / name).is_dir() else 0o644 for name in found}
        assert {k: oct(v) for k, v in found.items()} == {k: oct(v) for k, v in expected.items()}
