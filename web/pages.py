"""Template functions shared by the printable pages (the map, the indicators): the print date and data version."""

from __future__ import annotations

from datetime import date

from flask import Flask, g

from . import data


def print_date() -> str:
    """Return today's date as the page's language writes it (03/12/2026 in Vietnamese, 2026-12-03 in English)."""
    today = date.today()
    return today.isoformat() if g.get("lang") == "en" else today.strftime("%d/%m/%Y")


def served_version_label() -> str:
    """Return the served dataset version: the store's changeset id, its date and author."""
    n = data.served_version()
    found = [v for v in data.versions() if v["n"] == n]
    return f"#{n} ({found[0]['time'][:10]}, {found[0]['author']})" if found else str(n)


def install(app: Flask) -> None:
    """Register ``print_date`` and ``served_version_label`` as template functions."""
    app.jinja_env.globals["print_date"] = print_date
    app.jinja_env.globals["served_version_label"] = served_version_label
