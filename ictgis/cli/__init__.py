"""The ``ictgis`` command line: one click group, one command per task.

This module holds the group (:func:`main`, the ``ictgis`` entry point); the commands live in one module per family
(:mod:`~ictgis.cli.data`, :mod:`~ictgis.cli.indicators`, :mod:`~ictgis.cli.coverage` …), with the options they share
in :mod:`~ictgis.cli._options`, and are listed here in :data:`COMMANDS`: no command module imports the group. A
command's module is imported when that command runs (click's lazily loaded subcommands), so ``ictgis viewshed``
does not import the modules of the other commands; ``ictgis --help`` imports them all for their one-line help.

Errors from the IctgisError family print as one clear message and exit with code 2; ``-v`` shows tracebacks.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from .. import __version__
from .._errors import MAX_SHOWN_PROBLEMS, IctgisError

logger = logging.getLogger(__name__)

#: Every command: its name → (module of ``ictgis.cli``, name of the click command in it).
COMMANDS = {
    "validate": ("data", "validate"), "indicators": ("indicators", "indicators"), "demo": ("data", "demo"),
    "clean": ("data", "clean"), "coverage": ("coverage", "coverage"), "fiber": ("fiber", "fiber"),
    "export-ofds": ("fiber", "export_ofds"), "postal": ("postal", "postal"), "profile": ("radio", "profile_command"),
    "scenario": ("scenario", "scenario"), "viewshed": ("terrain", "viewshed"), "serve": ("web", "serve"),
    "user": ("web", "user"), "match-codes": ("codes", "match_codes"), "calibrate": ("calibrate", "calibrate"),
    "lastmile": ("lastmile", "lastmile"), "db": ("db", "db"),
}


def no_numpy_huge_pages() -> None:
    """Ask numpy not to advise transparent huge pages for its arrays (``NUMPY_MADVISE_HUGEPAGE=0``).

    Only when numpy is not imported yet (it reads the setting on import) and the variable is not set already; the
    processes the command starts (Dask workers, the web server's scenario runs) inherit it. With transparent huge
    pages in ``madvise`` mode (Debian's default), numpy's advice makes the first touch of every large array fault in,
    zero and, when memory is fragmented, compact 2 MB pages: on the 2-core machines we measure on, filling a new
    520 MB array took 3.2–4.8 s with the advice and 0.29–0.38 s without, and ``ictgis coverage`` at 30 m touches
    ≈ 1.4 GB of new arrays (`benchmarks/bench_cli.py`).
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


class IctgisGroup(click.Group):
    """A click group that turns IctgisError into a clear message and exit code 2, and loads :data:`COMMANDS`."""

    def main(self, *args, **kwargs):
        """Run the command line (numpy without huge-page advice, see `no_numpy_huge_pages`)."""
        no_numpy_huge_pages()
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of every command, sorted."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command `cmd_name`, importing its module on first use."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, name = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        return command

    def invoke(self, ctx: click.Context):
        """Run the command, reporting IctgisError without a traceback (unless -v)."""
        try:
            return super().invoke(ctx)
        except IctgisError as exc:
            if ctx.obj and ctx.obj.get("verbose", 0) > 0:
                logger.exception("error")
            click.echo(f"Error: {error_text(exc)}", err=True)
            ctx.exit(2)


def error_text(exc: IctgisError) -> str:
    """Return an error's message with its first problems; a long list is written whole to a text file it names.

    The file (``ictgis-problems-*.txt`` in the temporary folder) lists every problem, one per line.
    """
    if len(exc.problems) <= MAX_SHOWN_PROBLEMS:
        return str(exc)
    import tempfile

    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="ictgis-problems-", suffix=".txt",
                                         delete=False) as out:
            out.write(exc.describe() + "\n")
    except OSError:
        logger.debug("cannot write the list of problems", exc_info=True)
        return str(exc)
    return exc.describe(limit=MAX_SHOWN_PROBLEMS, all_in=out.name)


def _configure_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(logging.DEBUG, level), format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.captureWarnings(True)


@click.group(cls=IctgisGroup)
@click.option("-v", "--verbose", count=True, help="More output (repeat for debug); tracebacks on errors.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.version_option(__version__, prog_name="ictgis")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Ictgis: GIS planning for a provincial Department of Information and Communications."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    _configure_logging(verbose, quiet)

