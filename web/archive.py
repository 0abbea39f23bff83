"""Safe handling of uploaded zip files: every entry checked before anything is extracted.

Refused: absolute paths, drive letters, ``..`` components, symbolic links, encrypted entries, too many entries,
a total uncompressed size or a compression ratio beyond the limits (zip bombs). Extraction writes only files the
caller names (``<layer>.shp`` …), never a path taken from the archive, and counts the bytes it actually writes.
"""

from __future__ import annotations

import lzma
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ictgis import LayerError, Problem

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SINGLE_FILE_SUFFIXES = (".gpkg", ".geojson", ".json", ".kml", ".csv", ".fgb")


@dataclass(frozen=True)
class ZipLimits:
    """Limits on an uploaded zip.

    Attributes
    ----------
    max_entries
        Entries in the archive.
    max_total_bytes
        Sum of the uncompressed sizes.
    max_ratio
        Uncompressed / compressed size, per entry and overall.
    """

    max_entries: int = 200
    max_total_bytes: int = 500 * 1024 * 1024
    max_ratio: float = 100.0


def _bad_name(name: str) -> str | None:
    if "\x00" in name:
        return "a NUL character in the name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "a path outside the archive ('..')"
    return None


def check_zip(path: str | Path, limits: ZipLimits, *, label: str = "upload.zip") -> list[zipfile.ZipInfo]:
    """Check every entry of a zip; return its file entries.

    Raises
    ------
    LayerError
        Listing every problem found (not a zip, bad paths, links, encrypted entries, sizes, ratios).
    """
    problems: list[Problem] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LayerError(f"{label}: not a zip file", [Problem(label, f"not a zip file ({exc})")]) from exc
    with zf:
        infos = zf.infolist()
    if len(infos) > limits.max_entries:
        problems.append(Problem(label, f"{len(infos)} entries; at most {limits.max_entries} are accepted"))
    total = compressed = 0
    files = []
    for info in infos:
        bad = _bad_name(info.filename)
        if bad:
            problems.append(Problem(label, f"entry {info.filename!r} has {bad}"))
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(Problem(label, f"entry {info.filename!r} is a symbolic link"))
            continue
        if info.flag_bits & 0x1:
            problems.append(Problem(label, f"entry {info.filename!r} is encrypted"))
            continue
        if info.is_dir():
            continue
        total += info.file_size
        compressed += info.compress_size
        if info.file_size > 0 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
            ratio = info.file_size / max(info.compress_size, 1)
            problems.append(Problem(label, f"entry {info.filename!r} expands {ratio:.0f}×; at most "
                                           f"{limits.max_ratio:.0f}× is accepted"))
        files.append(info)
    if total > limits.max_total_bytes:
        problems.append(Problem(label, f"{total / 1e6:.1f} MB uncompressed; at most "
                                       f"{limits.max_total_bytes / 1e6:.1f} MB are accepted"))
    if total and total / max(compressed, 1) > limits.max_ratio:
        problems.append(Problem(label, f"the archive expands {total / max(compressed, 1):.0f}× overall; at most "
                                       f"{limits.max_ratio:.0f}× is accepted"))
    if problems:
        raise LayerError(f"{label}: refused", problems)
    return files


def _copy_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: list[int], label: str) -> None:
    """Extract one entry to `dest`, stopping when more bytes come out than the budget or the declared size.

    A corrupt entry (bad CRC, damaged compressed data, data beyond its declared size, an unsupported compression
    method) is a LayerError naming it; errors writing `dest` (a full disk) are raised as they are.
    """
    written = 0

    def corrupt(exc: Exception) -> LayerError:
        return LayerError(f"{label}: damaged archive", [Problem(label, f"entry {info.filename!r} is damaged or "
                                                                       f"larger than it declares ({exc})")])

    try:
        src = zf.open(info)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, EOFError) as exc:
        raise corrupt(exc) from exc
    with src, open(dest, "wb") as out:
        while True:
            try:
                chunk = src.read(1 << 20)
            except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
                raise corrupt(exc) from exc
            except OSError as exc:  # bz2 reports damaged data as OSError; the archive is a local file
                raise corrupt(exc) from exc
            if not chunk:
                break
            written += len(chunk)
            budget[0] -= len(chunk)
            if written > info.file_size or budget[0] < 0:
                raise LayerError(f"{label}: refused", [Problem(label, f"entry {info.filename!r} is larger than "
                                                                      "it declares or than the limit")])
            out.write(chunk)


def extract_layer(path: str | Path, dest_dir: str | Path, layer: str, limits: ZipLimits, *,
                  label: str = "upload.zip") -> Path:
    """Extract the one layer of a checked zip into `dest_dir` as ``<layer>.<suffix>``; return the main file.

    The archive must hold exactly one shapefile (its .shp, .shx, .dbf and optional .prj, .cpg, in any folder),
    or exactly one single-file layer (GeoPackage, GeoJSON, KML, CSV, FlatGeobuf).

    Raises
    ------
    LayerError
        When the archive is refused by `check_zip`, holds no layer or several.
    """
    files = check_zip(path, limits, label=label)
    dest_dir = Path(dest_dir)
    by_suffix: dict[str, list[zipfile.ZipInfo]] = {}
    for info in files:
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        if name.startswith(".") or info.filename.startswith("__MACOSX/"):
            continue
        by_suffix.setdefault(PurePosixPath(name).suffix.lower(), []).append(info)
    shps = by_suffix.get(".shp", [])
    singles = [i for s in SINGLE_FILE_SUFFIXES for i in by_suffix.get(s, [])]
    budget = [limits.max_total_bytes]
    with zipfile.ZipFile(path) as zf:
        if len(shps) == 1 and not singles:
            stem = str(PurePosixPath(shps[0].filename.replace("\\", "/")).with_suffix(""))
            parts = {}
            for suffix in SHAPEFILE_PARTS:
                for info in by_suffix.get(suffix, []):
                    if str(PurePosixPath(info.filename.replace("\\", "/")).with_suffix("")).lower() == stem.lower():
                        parts[suffix] = info
            missing = [s for s in (".shx", ".dbf") if s not in parts]
            if missing:
                raise LayerError(f"{label}: incomplete shapefile",
                                 [Problem(label, f"the shapefile has no {', '.join(missing)} file")])
            for suffix, info in parts.items():
                _copy_limited(zf, info, dest_dir / f"{layer}{suffix}", budget, label)
            return dest_dir / f"{layer}.shp"
        if len(singles) == 1 and not shps:
            suffix = PurePosixPath(singles[0].filename).suffix.lower()
            suffix = ".geojson" if suffix == ".json" else suffix
            _copy_limited(zf, singles[0], dest_dir / f"{layer}{suffix}", budget, label)
            return dest_dir / f"{layer}{suffix}"
    found = len(shps) + len(singles)
    raise LayerError(f"{label}: expected one layer", [Problem(label, f"the archive must hold exactly one shapefile or "
                                                                     f"one layer file (found {found})")])


def copy_tree_links(src: Path, dst: Path, *, skip: set[str] | None = None) -> None:
    """Copy the files of a flat data folder, hard-linking where possible (versions are never modified)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if not item.is_file() or (skip and item.name in skip):
            continue
        try:
            (dst / item.name).hardlink_to(item)
        except OSError:
            shutil.copy2(item, dst / item.name)
