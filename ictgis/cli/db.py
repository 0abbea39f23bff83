"""``ictgis db``: the shared database — create it, import data folders, list and compare changesets, export.

The store is named by ``--db`` (a ``.gpkg`` file or ``postgresql://USER@HOST/DB``) or by ``DATABASE_URL``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from ._options import CRS_OPTION, data_warnings

logger = logging.getLogger(__name__)

DB = click.option("--db", "db", default=None, metavar="URL", help="The store: a .gpkg file (created by `db init`) "
                  "or postgresql://USER@HOST/DB [default: $DATABASE_URL].")


def _open(db: str | None):
    from ..store import open_store

    return open_store(db)


@click.group()
def db() -> None:
    """Keep the layers with their history in the shared database (GeoPackage or PostgreSQL + PostGIS)."""


@db.command("init")
@DB
def init_cmd(db: str | None) -> None:
    """Create the store, or bring an existing one to the latest schema (alembic upgrade head)."""
    with _open(db) as store:
        revision = store.init()
        click.echo(f"store {store.label}: schema revision {revision}")


@db.command("import")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@DB
@CRS_OPTION
@click.option("--author", required=True, help="Who records this change.")
@click.option("--message", required=True, help="Why: what the data is (survey, operator update …).")
@click.option("--json", "as_json", is_flag=True, help="Print the changeset as JSON (null when nothing changed).")
def import_cmd(data_dir: Path, db: str | None, crs: str | None, author: str, message: str, as_json: bool) -> None:
    """Validate DATA_DIR and record what differs from the current layers as one changeset."""
    with _open(db) as store, data_warnings():
        cs = store.import_dataset(data_dir, author=author, message=message, crs=crs)
    if as_json:
        click.echo(json.dumps(None if cs is None else cs.to_dict(), ensure_ascii=False, indent=2))
        return
    if cs is None:
        click.echo("no change: the layers equal the current ones; no changeset recorded")
        return
    counts = cs.counts or {}
    parts = [f"{name} +{c['added']} ~{c['changed']} -{c['removed']}" for name, c in counts.items()]
    click.echo(f"changeset {cs.id} ({cs.time:%Y-%m-%d %H:%M:%S} UTC): " + ("; ".join(parts) or "dataset properties"))


@db.command("log")
@DB
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, oldest first.")
def log_cmd(db: str | None, as_json: bool) -> None:
    """List the changesets, oldest first."""
    with _open(db) as store:
        log = store.log()
    if as_json:
        click.echo(json.dumps([cs.to_dict() for cs in log], ensure_ascii=False, indent=2))
        return
    if not log:
        click.echo("no changeset yet: `ictgis db import DATA_DIR --author … --message …`")
    for cs in log:
        click.echo(f"{cs.id:>5}  {cs.time:%Y-%m-%d %H:%M:%S}Z  {cs.kind:<6}  {cs.author}: {cs.message}")


@db.command("diff")
@DB
@click.option("--from", "from_", required=True, metavar="ID|DATE",
              help="The earlier state: changeset id or date (the end of that day, Vietnam time).")
@click.option("--to", "to", required=True, metavar="ID|DATE",
              help="The later state: changeset id or date (the end of that day, Vietnam time).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"layers": {LAYER: {"added": [ids], "removed": [ids], "changed": [ids]}}}.')
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the changed features to this GeoPackage (a layer per layer and `cells`, with a `change` "
              "column).")
def diff_cmd(db: str | None, from_: str, to: str, as_json: bool, out_file: Path | None) -> None:
    """List the features added, removed and changed between two changesets or dates."""
    with _open(db) as store:
        changes = store.diff(from_, to)
        if out_file is not None:
            from ..io import write_layers

            if out_file.suffix.lower() != ".gpkg":
                raise click.BadParameter("the changes are written to a GeoPackage (.gpkg)", param_hint="--out")
            write_layers(store.diff_layers(from_, to, cells=True), out_file)
    if as_json:
        click.echo(json.dumps({"layers": changes}, ensure_ascii=False, indent=2))
    else:
        for name, kinds in changes.items():
            click.echo(f"{name:<13} added {len(kinds['added']):>5}  removed {len(kinds['removed']):>5}  "
                       f"changed {len(kinds['changed']):>5}")
    if out_file is not None:
        logger.info("wrote %s", out_file)


@db.command("export")
@DB
@click.option("--as-of", "as_of", default=None, metavar="DATE|ID", help="The state to export (default: current).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Data folder to write (replaced as a whole).")
def export_cmd(db: str | None, as_of: str | None, out_dir: Path) -> None:
    """Write the layers as of a state into a plain data folder (GeoPackages, dem.tif); same state, same bytes."""
    with _open(db) as store:
        number = store.resolve(as_of)
        store.export(out_dir, as_of=number)
    click.echo(f"changeset {number} exported to {out_dir}")
