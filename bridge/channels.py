"""Channels: declared in TOML files, never in code.

A file holds one or more ``[[channel]]`` tables::

    [[channel]]
    name = "fhir-intake"
    source = "fhir+json"              # format id of what is posted
    target = "fhir+json"              # format id of what is produced
    destination = "none"              # "none" or a name under DESTINATIONS in the config
    validators = ["fhir+json"]        # conformance checks run on the FHIR pivot (profile names or format ids)
    description = "…"
    [channel.pins]                    # mapping versions this channel is pinned to
    administrative-gender = "1.0.0"
    [channel.settings]                # facility settings handed to mappers (identifier systems, timezone …)
    timezone = "Asia/Jakarta"
    [[channel.translate]]             # extra code translation on the pivot
    resource = "Patient"
    element = "maritalStatus"         # dotted path to a code, Coding or CodeableConcept
    map = "local-marital-status"
    system = "urn:…"                  # optional: only codes of this system

Every channel is checked when loaded: formats registered, pinned maps present, destination known.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError, GatewayError, NotFound


@dataclass(frozen=True)
class TranslateRule:
    resource: str
    element: str
    map_id: str
    system: str | None = None


@dataclass(frozen=True)
class Channel:
    name: str
    source: str
    target: str
    destination: str = "none"
    validators: tuple[str, ...] = ()
    pins: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    translate: tuple[TranslateRule, ...] = ()
    description: str = ""
    origin: str = ""


def channel_from_dict(raw: Mapping[str, Any], origin: str = "") -> Channel:
    try:
        rules = tuple(
            TranslateRule(r["resource"], r["element"], r["map"], r.get("system")) for r in raw.get("translate", [])
        )
        return Channel(
            name=str(raw["name"]),
            source=str(raw["source"]),
            target=str(raw.get("target", raw["source"])),
            destination=str(raw.get("destination", "none")),
            validators=tuple(raw.get("validators", ())),
            pins=dict(raw.get("pins", {})),
            settings=dict(raw.get("settings", {})),
            translate=rules,
            description=str(raw.get("description", "")),
            origin=origin,
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError("GW-7201", f"{origin}: channel needs name and source ({exc})") from exc


def load_channel_files(paths: Iterable[str | Path]) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for path in _toml_files(paths):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("GW-7202", f"{path}: {exc}") from exc
        for raw in data.get("channel", []):
            channel = channel_from_dict(raw, str(path))
            if channel.name in channels:
                raise ConfigError(
                    "GW-7203", f"{path}: channel {channel.name!r} already defined in {channels[channel.name].origin}"
                )
            channels[channel.name] = channel
    return channels


def _toml_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for entry in paths:
        p = Path(entry)
        if p.is_dir():
            files.extend(sorted(p.glob("*.toml")))
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError("GW-7204", f"channel path {p} does not exist")
    return files


class ChannelSet:
    """The loaded channels, checked against the format and mapping registries."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self._channels = dict(channels)

    def get(self, name: str) -> Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise NotFound("GW-6405", f"no channel named {name!r}") from None

    def __iter__(self) -> Any:
        return iter(self._channels.values())

    def names(self) -> list[str]:
        return sorted(self._channels)

    def problems(self, formats: Any, mappings: Any, destinations: Mapping[str, Any]) -> dict[str, list[str]]:
        """Configuration problems per channel name (only channels that have some)."""
        found = {ch.name: _check_channel(ch, formats, mappings, destinations) for ch in self._channels.values()}
        return {name: msgs for name, msgs in found.items() if msgs}


def _check_channel(ch: Channel, formats: Any, mappings: Any, destinations: Mapping[str, Any]) -> list[str]:
    problems = []
    for fmt in (ch.source, ch.target):
        if fmt not in formats:
            problems.append(f"channel {ch.name}: format {fmt!r} is not registered")
    for name in ch.validators:
        try:
            fmt, _ = formats.checker(name)
        except GatewayError:
            problems.append(f"channel {ch.name}: validator {name!r} is unknown")
            continue
        if fmt.format_id != "fhir+json":
            problems.append(f"channel {ch.name}: validator {name!r} checks {fmt.format_id}, not the FHIR pivot")
    pinned = dict(ch.pins)
    pinned.update({rule.map_id: pinned.get(rule.map_id) for rule in ch.translate})  # type: ignore[misc]
    for map_id, version in pinned.items():
        try:
            mappings.get(map_id, version)
        except GatewayError as exc:
            problems.append(f"channel {ch.name}: {exc.message}")
    if ch.destination != "none" and ch.destination not in destinations:
        problems.append(f"channel {ch.name}: destination {ch.destination!r} is not configured")
    return problems
