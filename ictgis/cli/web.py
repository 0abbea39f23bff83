"""Commands of the web map: ``ictgis serve`` and ``ictgis user add|list|remove``.

The web package is imported lazily, so the engine works without Flask installed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import click

from ._options import dataset_folder, store_options

logger = logging.getLogger(__name__)


def _web():
    try:
        import ictgis_web as web
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(f"the web map needs the 'web' extra: pip install 'ictgis[web]' ({exc})") from exc
    return web


@click.command()
@click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Data folder to serve (default: the embedded demo).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, type=int, show_default=True)
@click.option("--threads", default=4, type=int, show_default=True)
@click.option("--instance", "instance", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Instance folder (users, secret key, dataset versions, runs); default instance/.")
@store_options
def serve(data_dir: Path | None, host: str, port: int, threads: int, instance: Path | None, db: str | None,
          as_of: str | None) -> None:
    """Serve the web map with waitress.

    The map's layers live in a store (the shared database): --db URL (a .gpkg file or postgresql://…), default
    the instance's ictgis.gpkg, created at the first start with the --data folder imported as its first
    changeset. Uploads, edits on the map and roll backs are changesets of that store, and every server sharing it
    serves the latest. With --as-of, the state of --db as of then is served from a temporary copy (a look at the
    past: changes made there are not kept).

    At start, the instance folder is locked (one server per instance) and what a killed server left is swept
    (partial outputs and uploads, runs still recorded as running). SIGTERM (systemd, containers) stops the server
    like Ctrl-C: the running and queued runs are stopped and recorded as cancelled, then the process exits.
    """
    if db is not None and as_of is None:
        if data_dir is not None:
            raise click.UsageError(f"give either --data ({data_dir}) or --db, not both")
        _serve(None, host=host, port=port, threads=threads, instance=instance, store_url=db)
        return
    with dataset_folder(data_dir, db=db, as_of=as_of) as folder:
        past = None if as_of is None or folder is None else str(folder.parent / "as-of.gpkg")
        _serve(folder, host=host, port=port, threads=threads, instance=instance, store_url=past, accounts_url=db)


def _serve(data_dir: Path | None, *, host: str, port: int, threads: int, instance: Path | None,
           store_url: str | None = None, accounts_url: str | None = None) -> None:
    try:
        from waitress.server import create_server
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(f"the web map needs the 'web' extra: pip install 'ictgis[web]' ({exc})") from exc
    web = _web()
    from ictgis_web.startup import InstanceBusyError, claim_instance, sweep

    app = web.create_app({"DATA_DIR": str(data_dir) if data_dir else None, "STORE_URL": store_url,
                          "ACCOUNTS_URL": accounts_url, "INSTANCE_PATH": str(instance.resolve()) if instance else None})
    try:
        lock = claim_instance(app.instance_path)
    except InstanceBusyError as exc:
        raise click.ClickException(str(exc)) from exc
    swept = sweep(app)
    if swept["interrupted_runs"] or swept["removed"]:
        click.echo(f"ictgis: a previous server stopped abruptly: {len(swept['interrupted_runs'])} run(s) marked "
                   f"interrupted, {len(swept['removed'])} leftover(s) removed")
    server = create_server(app, host=host, port=port, threads=threads)
    click.echo(f"ictgis: serving the store {app.extensions['ictgis_served'].store.label} on "
               f"http://{host}:{server.effective_port}/ "
               f"(pid {os.getpid()})")

    def _stop(signum: int, _frame) -> None:
        logger.warning("signal %s: stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt  # waitress stops on it, as on Ctrl-C

    previous = signal.signal(signal.SIGTERM, _stop), signal.getsignal(signal.SIGINT)
    try:
        server.run()
    finally:  # Ctrl-C or SIGTERM: queued runs never start, running ones are stopped (their records say so)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            app.extensions["ictgis_jobs"].close()
            click.echo("ictgis: stopped")
        finally:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
            lock.close()


def _store(instance: Path | None, db: str | None):
    from ictgis_web.accounts import accounts_url
    from ictgis_web.users import UserStore

    app = _web().create_app({"PRECOMPUTE": False, "STORE_AT_START": False,  # no server: only its configuration
                             "ACCOUNTS_URL": db, "INSTANCE_PATH": str(instance.resolve()) if instance else None})
    return UserStore(app.instance_path, url=accounts_url(app))


@click.group()
def user() -> None:
    """Manage the planners and viewers of the web map (kept in its store, shared by every server using it)."""


INSTANCE = click.option("--instance", "instance", default=None, type=click.Path(file_okay=False, path_type=Path),
                        help="Instance folder of the web app (default instance/).")
USERS_DB = click.option("--db", "db", default=None, metavar="URL",
                        help="The store holding the users (a .gpkg file or postgresql://…), as given to `ictgis "
                        "serve --db`; default: the instance's store (its config.py STORE_URL, else ictgis.gpkg).")


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["planner", "viewer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--replace", is_flag=True, help="Change the role and password of an existing user.")
@INSTANCE
@USERS_DB
def user_add(name: str, role: str, password_stdin: bool, replace: bool, instance: Path | None,
             db: str | None) -> None:
    """Add a user NAME (the password is asked for, or read with --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    added = _store(instance, db).add(name, password, role, replace=replace)
    click.echo(f"user {added.name} ({added.role}) saved")


@user.command("list")
@INSTANCE
@USERS_DB
def user_list(instance: Path | None, db: str | None) -> None:
    """List the users and their roles."""
    for u in _store(instance, db).list():
        click.echo(f"{u.name}\t{u.role}")


@user.command("remove")
@click.argument("name")
@INSTANCE
@USERS_DB
def user_remove(name: str, instance: Path | None, db: str | None) -> None:
    """Remove a user."""
    if not _store(instance, db).remove(name):
        raise click.ClickException(f"no user {name!r}")
    click.echo(f"user {name} removed")
