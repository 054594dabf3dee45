"""The ``jembatan`` command. Every command is a thin wrapper over a plain function.

Exit codes: 0 success, 1 the payload has error-level issues (validate/convert), 2 usage errors
(unknown format, unreadable file, bad option).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from bridge import create_app
from bridge.channels import Channel
from bridge.errors import GatewayError, UnknownFormat
from bridge.gateway import Gateway, get_gateway
from bridge.pipeline import Pipeline, RunResult
from conformance.check import check_payload
from conformance.outcome import Outcome

USAGE_ERROR = 2


def _make_app() -> Flask:
    return create_app()


def read_input(source: str, limit: int) -> bytes:
    """Bytes of FILE or ``-`` (stdin), refusing more than ``limit`` bytes."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise click.UsageError(f"cannot read {source}: {exc.strerror}") from exc
    if len(data) > limit:
        raise click.UsageError(f"{source} is larger than the limit of {limit} bytes")
    return data


def convert_payload(
    gateway: Gateway, source: str, target: str, raw: bytes, settings: dict[str, Any] | None = None
) -> RunResult:
    """decode → to FHIR → from FHIR → encode between two registered formats (no channel, no storage)."""
    channel = Channel(name=f"convert:{source}->{target}", source=source, target=target, settings=settings or {})
    pipeline = Pipeline(
        channel, gateway.formats, gateway.mappings, gateway.terminology, dict(gateway.config.get("FACILITY", {}))
    )
    return pipeline.run(raw)


def ready_gateway() -> Gateway:
    """The app's gateway with storage migrated and bundled terminology loaded (code checks need it)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.server import prepare

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        prepare(app)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"database unavailable ({type(exc).__name__}); check DATABASE_URL") from exc
    return get_gateway(app)


def _print_issues(outcome: Outcome) -> None:
    for issue in outcome:
        where = ", ".join(issue.expression or issue.location)
        click.echo(f"{issue.severity}: {issue.message}" + (f" [{where}]" if where else ""), err=True)


@click.group(cls=FlaskGroup, create_app=_make_app, add_default_commands=False, add_version_option=False)
@click.version_option(package_name="jembatan")
def main() -> None:
    """Jembatan: gateway between SIMRS (HL7 v2, FHIR), SATUSEHAT, BPJS and DHIS2."""


@click.command("convert")
@with_appcontext
@click.option("--from", "source", required=True, help="Source format id (see `jembatan formats`).")
@click.option("--to", "target", required=True, help="Target format id.")
@click.argument("file", default="-")
def convert_command(source: str, target: str, file: str) -> None:
    """Convert FILE (or stdin) from one format to another through the FHIR pivot."""
    gateway = ready_gateway()
    try:
        result = convert_payload(gateway, source, target, read_input(file, current_app.config["MAX_CONTENT_LENGTH"]))
    except UnknownFormat as exc:
        raise click.UsageError(exc.message) from exc
    _print_issues(result.outcome)
    if result.output is None:
        click.echo(f"conversion failed at step {result.failed_step}", err=True)
        raise click.exceptions.Exit(1)
    sys.stdout.buffer.write(result.output)
    if not result.output.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")


@click.command("validate")
@with_appcontext
@click.option("--format", "name", required=True, help="Format id or profile (satusehat, bpjs, dhis2).")
@click.argument("file", default="-")
def validate_command(name: str, file: str) -> None:
    """Print the OperationOutcome for FILE; exit 1 if it has an error-level issue."""
    gateway = ready_gateway()
    raw = read_input(file, current_app.config["MAX_CONTENT_LENGTH"])
    try:
        outcome = check_payload(gateway, name, raw)
    except UnknownFormat as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(json.dumps(outcome.to_operation_outcome(), indent=2, ensure_ascii=False))
    if not outcome.ok:
        raise click.exceptions.Exit(1)


@click.command("formats")
@with_appcontext
def formats_command() -> None:
    """List the registered formats and conformance profiles."""
    gateway = get_gateway()
    for fmt in gateway.formats:
        mapped = "fhir" if fmt.mapper is not None else "-"
        click.echo(f"{fmt.format_id:28} {fmt.media_type:32} {mapped:5} {fmt.description}")
    for name, (input_format, _, desc) in sorted(gateway.formats.profiles().items()):
        click.echo(f"{name:28} profile over {input_format:19} {desc}")


@click.command("channels")
@with_appcontext
def channels_command() -> None:
    """List channels and report configuration problems."""
    gateway = get_gateway()
    for ch in gateway.channels:
        click.echo(f"{ch.name:24} {ch.source} -> {ch.target} => {ch.destination}")
    problems = gateway.check()
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@click.command("serve")
@with_appcontext
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--http-port", type=int, default=None, help="HTTP port (default 8080).")
@click.option("--mllp-port", type=int, default=None, help="MLLP port (default 2575; 0 disables).")
@click.option("--threads", type=int, default=8, show_default=True)
def serve_command(host: str | None, http_port: int | None, mllp_port: int | None, threads: int) -> None:
    """Run the gateway: migrations, bundled data, HTTP API and the MLLP listener."""
    from bridge.server import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    serve(app, host=host, http_port=http_port, mllp_port=mllp_port, threads=threads)


@click.command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--http-port", type=int, default=8080, show_default=True)
@click.option("--mllp-port", type=int, default=2575, show_default=True)
@click.option("--once", is_flag=True, help="Send the demo messages, print the results and exit.")
def demo_command(host: str, http_port: int, mllp_port: int, once: bool) -> None:
    """Everything on one machine: gateway, simulators of SATUSEHAT/BPJS/DHIS2, delivery worker, demo traffic."""
    from bridge.demo import run_demo

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_demo(
        app,
        host=host,
        http_port=http_port,
        mllp_port=mllp_port,
        once=once,
    )


@click.command("simulate")
@with_appcontext
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: satusehat 8081, bpjs 8082, dhis2 8083.")
def simulate_command(name: str, host: str, port: int | None) -> None:
    """Serve an upstream simulator (satusehat, bpjs, dhis2)."""
    from bridge.server import DEFAULT_SIM_PORTS
    from bridge.simulators import create_simulator

    try:
        sim = create_simulator(name)
    except GatewayError as exc:
        raise click.UsageError(exc.message) from exc
    from bridge.demo import simulator_server

    port = port or DEFAULT_SIM_PORTS.get(name, 8090)
    click.echo(f"{name} simulator on http://{host}:{port}/")
    simulator_server(name, sim, host, port).run()


COMMANDS = (
    convert_command,
    validate_command,
    formats_command,
    channels_command,
    serve_command,
    demo_command,
    simulate_command,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
