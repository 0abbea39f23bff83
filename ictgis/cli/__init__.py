"""The ``ictgis`` command line: one click group, one command per task.

This module holds the group (:func:`main`, the ``ictgis`` entry point); the commands live in one module per family
(:mod:`~ictgis.cli.data`, :mod:`~ictgis.cli.indicators`, :mod:`~ictgis.cli.coverage` …), with the options they share
in :mod:`~ictgis.cli._options`, and are added here with ``main.add_command``: no command module imports the group.

Errors from the IctgisError family print as one clear message and exit with code 2; ``-v`` shows tracebacks.
"""

from __future__ import annotations

import logging
import sys

import click

from .. import __version__
from .._errors import MAX_SHOWN_PROBLEMS, IctgisError
from . import calibrate, codes, coverage, data, db, fiber, indicators, lastmile, postal, radio, scenario, terrain, web

logger = logging.getLogger(__name__)


class IctgisGroup(click.Group):
    """A click group that turns IctgisError into a clear message and exit code 2."""

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


for _command in (data.validate, indicators.indicators, data.demo, data.clean, coverage.coverage, fiber.fiber,
                 fiber.export_ofds,
                 postal.postal, radio.profile_command, scenario.scenario, terrain.viewshed, web.serve, web.user,
                 codes.match_codes, calibrate.calibrate, lastmile.lastmile, db.db):
    main.add_command(_command)
