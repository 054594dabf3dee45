"""DHIS2 upstream: metadata pull and data value push, plus the ``jembatan dhis2`` commands.

A destination is a mapping under ``DESTINATIONS`` (see :class:`Dhis2Config`): ``base_url``,
``token`` or ``username``/``password``, ``id_schemes``, ``dry_run_first``, ``import_strategy``,
``use_async``, ``metadata_cache``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_csv import DataValueSetCsvCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.import_summary import ImportResult, parse_import_summary
from adapters.dhis2.metadata import validate_data_value_set
from adapters.dhis2.model import DataValueSet
from bridge.errors import GatewayError
from bridge.upstreams.dhis2.client import MEDIA_TYPES, Dhis2Client, Dhis2Config, Dhis2Rejected, merge_metadata
from bridge.upstreams.dhis2.destination import Dhis2Destination

__all__ = [
    "Dhis2Client",
    "Dhis2Config",
    "Dhis2Destination",
    "Dhis2Rejected",
    "ImportResult",
    "init_app",
    "merge_metadata",
    "parse_import_summary",
]

_CODECS = {
    "dhis2.dvs+json": DataValueSetJsonCodec,
    "dhis2.dvs+xml": DataValueSetXmlCodec,
    "dhis2.dvs+csv": DataValueSetCsvCodec,
    "dhis2.adx+xml": AdxCodec,
}
_BY_SUFFIX = {".json": "dhis2.dvs+json", ".xml": "dhis2.dvs+xml", ".csv": "dhis2.dvs+csv", ".adx": "dhis2.adx+xml"}


def client_for(destination: str) -> Dhis2Client:
    settings = (current_app.config.get("DESTINATIONS") or {}).get(destination)
    if not settings:
        raise click.ClickException(f"no destination {destination!r} in DESTINATIONS")
    return Dhis2Client(Dhis2Config.from_mapping(settings))


@click.group("dhis2", cls=AppGroup)
def dhis2_group() -> None:
    """DHIS2 destination commands (metadata snapshot, push)."""


@dhis2_group.command("metadata")
@click.argument("destination")
@click.option("--full", is_flag=True, help="Ignore the cached snapshot and pull everything.")
def metadata_command(destination: str, full: bool) -> None:
    """Pull (or refresh by lastUpdated) the metadata snapshot of DESTINATION and print its size."""
    client = client_for(destination)
    try:
        meta = client.pull_metadata(full=full)
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    finally:
        client.close()
    counts = {k: len(v) for k, v in meta.items() if isinstance(v, list)}
    click.echo(json.dumps(counts, sort_keys=True))


@dhis2_group.command("push")
@click.argument("destination")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "format_id",
    type=click.Choice(sorted(MEDIA_TYPES)),
    default=None,
    help="Payload format (default: from the file suffix, .adx = ADX).",
)
@click.option("--data-set", default=None, help="dataSet for CSV payloads.")
@click.option("--validate/--no-validate", default=True, help="Pre-validate JSON/XML/CSV against the metadata first.")
def push_command(destination: str, path: str, format_id: str | None, data_set: str | None, validate: bool) -> None:
    """Push the data value set in PATH to DESTINATION and print the import summary as located issues."""
    format_id = format_id or _BY_SUFFIX.get(Path(path).suffix.lower(), "dhis2.dvs+json")
    body = Path(path).read_bytes()
    client = client_for(destination)
    try:
        model = _CODECS[format_id]().parse(body)
        if validate and isinstance(model, DataValueSet):
            outcome = validate_data_value_set(model, client.snapshot(), client.config.schemes(format_id))
            if not outcome.ok:
                click.echo(json.dumps(outcome.to_operation_outcome(), indent=1))
                raise click.ClickException("pre-validation failed; nothing was sent")
        result = client.push(body, format_id, data_set=data_set)
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    finally:
        client.close()
    click.echo(
        json.dumps(
            {
                "status": result.status,
                "importCount": result.import_count,
                "outcome": result.outcome.to_operation_outcome(),
            },
            indent=1,
        )
    )
    if result.whole_group_failed:
        raise click.ClickException("DHIS2 rejected the data value set")


@dhis2_group.command("indicators")
@click.argument("measure_id")
@click.argument("period")
@click.option("--version", "version", default=None, help="Indicator definition version (default: latest).")
@click.option("--channel", "channels", multiple=True, help="Only transactions of this channel (repeatable).")
@click.option("--facility-system", default=None, help="Organization.identifier system that holds the facility code.")
@click.option("--org-unit-scheme", default="code", show_default=True, help="orgUnitIdScheme of the facility codes.")
@click.option(
    "--format", "format_id", type=click.Choice(sorted(MEDIA_TYPES)), default="dhis2.adx+xml", show_default=True
)
@click.option("--push", "destination", default=None, help="Send to this DHIS2 destination instead of printing.")
def indicators_command(measure_id: str, period: str, version: str | None, channels: tuple[str, ...],
                       facility_system: str | None, org_unit_scheme: str, format_id: str,
                       destination: str | None) -> None:  # fmt: skip
    """Evaluate MEASURE_ID for PERIOD over the FHIR data the gateway has processed; print or push the result."""
    from adapters.base import MapContext
    from bridge.db import get_db
    from bridge.gateway import get_gateway
    from bridge.upstreams.dhis2.client import encode
    from bridge.upstreams.dhis2.indicators import indicator_data_value_set, processed_resources

    gateway = get_gateway()
    settings = dict(current_app.config.get("FACILITY") or {})
    ctx = MapContext(gateway.mappings, settings=settings)
    try:
        resources = list(processed_resources(get_db(current_app), channels))
        dvs = indicator_data_value_set(
            measure_id,
            period,
            resources,
            ctx,
            version=version,
            facility_system=facility_system,
            org_unit_scheme=org_unit_scheme,
        )
        for issue in ctx.outcome:
            click.echo(f"{issue.severity}: {issue.message_id} {issue.message}", err=True)
        if destination is None:
            click.echo(encode(dvs, format_id).decode("utf-8"))
            return
        client = client_for(destination)
        try:
            result = client.push(encode(dvs, format_id), format_id)
        finally:
            client.close()
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(
        json.dumps(
            {
                "status": result.status,
                "importCount": result.import_count,
                "outcome": result.outcome.to_operation_outcome(),
            },
            indent=1,
        )
    )
    if not result.ok:
        raise click.ClickException(f"DHIS2 import status {result.status}")


def init_app(app: Flask) -> None:
    app.cli.add_command(dhis2_group)
