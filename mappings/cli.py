"""``jembatan mappings check|list|publish``: thin wrappers over :mod:`mappings.registry`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bridge.gateway import get_gateway
from mappings.registry import BUNDLED_ROOT, check_all, publish


def mapping_roots() -> list[Path]:
    return [BUNDLED_ROOT, *(Path(p) for p in current_app.config.get("MAPPING_PATHS", []))]


@click.group("mappings", cls=AppGroup)
def mappings_group() -> None:
    """Versioned code mappings."""


@mappings_group.command("check")
def check_command() -> None:
    """Validate every mapping file and the digests of published versions."""
    roots = mapping_roots()
    problems = check_all(roots)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    count = sum(len(list(r.glob("*/*.json"))) for r in roots)
    if problems:
        raise click.exceptions.Exit(1)
    click.echo(f"{count} mapping files OK")


@mappings_group.command("list")
def list_command() -> None:
    """Every map version with its status and digest."""
    for cmap in sorted(get_gateway().mappings, key=lambda c: (c.map_id, c.version)):
        click.echo(f"{cmap.map_id}\t{cmap.version}\t{cmap.status}\t{cmap.digest}")


@mappings_group.command("publish")
@click.argument("map_id")
@click.argument("version")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Mapping folder (default: the bundled one).",
)
def publish_command(map_id: str, version: str, root: Path | None) -> None:
    """Freeze a version: record its digest so it can never change in place."""
    digest = publish(root or BUNDLED_ROOT, map_id, version)
    click.echo(f"published {map_id}|{version} {digest}")


def init_app(app: Flask) -> None:
    app.cli.add_command(mappings_group)
