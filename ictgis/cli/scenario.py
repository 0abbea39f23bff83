"""``ictgis scenario``: validate, run and compare investment scenarios."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import data_warnings, dataset_folder, fraction_progress, store_options


@click.group()
def scenario() -> None:
    """Investment scenarios: validate, run, compare."""


@scenario.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@store_options
def validate_cmd(file: Path, db: str | None, as_of: str | None) -> None:
    """Check a scenario FILE: every problem at once, with its line number.

    With --db, the base data is the store's state (as of --as-of) instead of the file's ``base:`` folder.
    """
    from .. import scenario as sc

    with data_warnings(), dataset_folder(None, db=db, as_of=as_of) as base:  # repairs the base data needed
        parsed = sc.read(file, base=base)
    click.echo(f"valid: {file} ({parsed.name}: {len(parsed.interventions)} interventions on {parsed.base})")


@scenario.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of scenario files (for editors)."""
    import json

    from .. import scenario as sc

    click.echo(json.dumps(sc.json_schema(), ensure_ascii=False, indent=2))


@scenario.command("run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@store_options
def run_cmd(file: Path, out_dir: Path, force: bool, db: str | None, as_of: str | None) -> None:
    """Apply scenario FILE to copies of its base layers; write indicators, costs and layers into OUT.

    With --db, the base layers are the store's (as of --as-of) instead of the file's ``base:`` folder.
    """
    from .. import scenario as sc

    with data_warnings(), dataset_folder(None, db=db, as_of=as_of) as base, \
            fraction_progress("scenario") as progress:
        info = None
        if db is not None:
            from ..store import open_store

            with open_store(db) as store:
                info = {"store": store.label, "changeset": store.resolve(as_of)}
        result = sc.run(file, out_dir, force=force, progress=progress, base=base, base_info=info)
    click.echo(f"{file.name} → {out_dir}")
    click.echo(_format_delta(result.delta))
    total = result.costs.iloc[-1]
    click.echo(f"capex {total['capex_vnd']:,.0f} VND · opex {total['opex_vnd_per_year']:,.0f} VND/yr · "
               f"NPV {total['npv_vnd']:,.0f} VND")


def _format_delta(delta) -> str:
    lines = [f"  {'indicator':<42} {'before':>12} {'after':>12} {'change':>10}"]
    for row in delta.itertuples(index=False):
        fmt = (lambda v: "—" if v is None or v != v else f"{v:,}")  # noqa: E731
        lines.append(f"  {row.indicator:<42} {fmt(row.before):>12} {fmt(row.after):>12} {fmt(row.change):>10}")
    return "\n".join(lines)


@scenario.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--xlsx", "xlsx_file", type=click.Path(dir_okay=False, path_type=Path), default=None)
def compare_cmd(run_dirs: tuple[Path, ...], csv_file: Path | None, xlsx_file: Path | None) -> None:
    """Show key indicators and costs of finished runs side by side."""
    from .. import scenario as sc
    from .._files import atomic_path
    from ..labels import label
    from ..sheets import write_csv, write_xlsx

    table = sc.compare(list(run_dirs))
    click.echo(table.to_string(float_format=lambda v: f"{v:,.2f}"))
    if csv_file:
        with atomic_path(csv_file) as tmp:
            write_csv(table, tmp, index=True)
    if xlsx_file:
        with atomic_path(xlsx_file) as tmp:
            headings = {k: label(k).heading() for k in table.index}
            write_xlsx(table.rename(index=headings), tmp, sheet_name="So sánh", index=True)
