"""Commands of the web map: ``ictgis serve`` (and user management as the web app grows).

The web package is imported lazily, so the engine works without Flask installed.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli import main


@main.command()
@click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Data folder to serve (default: the embedded demo).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, type=int, show_default=True)
@click.option("--threads", default=4, type=int, show_default=True)
def serve(data_dir: Path | None, host: str, port: int, threads: int) -> None:
    """Serve the web map with waitress."""
    try:
        import waitress

        from web import create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(f"the web map needs the 'web' extra: pip install 'ictgis[web]' ({exc})") from exc
    app = create_app({"DATA_DIR": str(data_dir) if data_dir else None})
    click.echo(f"ictgis: serving {app.config['DATA_DIR']} on http://{host}:{port}/")
    waitress.serve(app, host=host, port=port, threads=threads)
