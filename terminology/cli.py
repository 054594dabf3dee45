"""``jembatan terminology ...`` commands (loaders are in :mod:`terminology.loaders`)."""

from __future__ import annotations

import click


@click.group("terminology")
def terminology_group() -> None:
    """Terminology store commands: load content."""
