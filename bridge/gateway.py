"""The gateway's long-lived parts, built once per app: formats, mappings, channels, pipelines."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from adapters.registry import FormatRegistry, default_registry
from bridge.channels import ChannelSet, load_channel_files
from bridge.errors import ConfigError
from bridge.pipeline import Pipeline
from mappings.registry import BUNDLED_ROOT, MappingRegistry


class Gateway:
    """Loaded lazily: a broken mapping or channel file fails the first use, with its own error code,
    not the start of unrelated commands (``jembatan mappings check`` must still run)."""

    def __init__(self, config: dict[str, Any], extensions: dict[str, Any] | None = None) -> None:
        self.config = config
        self._extensions = extensions if extensions is not None else {}
        self._pipelines: dict[str, Pipeline] = {}

    @property
    def terminology(self) -> Any:
        """The terminology service when the terminology feature is installed (``None`` otherwise)."""
        return self._extensions.get("jembatan.terminology")

    @cached_property
    def formats(self) -> FormatRegistry:
        return default_registry()

    @cached_property
    def mappings(self) -> MappingRegistry:
        return MappingRegistry([BUNDLED_ROOT, *(Path(p) for p in self.config.get("MAPPING_PATHS", []))])

    @cached_property
    def channels(self) -> ChannelSet:
        return ChannelSet(load_channel_files(self.config.get("CHANNEL_PATHS", [])))

    def problems(self) -> dict[str, list[str]]:
        return self.channels.problems(self.formats, self.mappings, self.config.get("DESTINATIONS", {}))

    def check(self) -> list[str]:
        return [msg for msgs in self.problems().values() for msg in msgs]

    def runnable_channels(self) -> list[str]:
        """Channels whose formats, maps and destination all exist (others are reported by ``check``)."""
        broken = self.problems()
        return [name for name in self.channels.names() if name not in broken]

    def pipeline(self, channel_name: str) -> Pipeline:
        if channel_name not in self._pipelines:
            channel = self.channels.get(channel_name)
            mine = self.problems().get(channel_name)
            if mine:
                raise ConfigError("GW-7207", "; ".join(mine))
            self._pipelines[channel_name] = Pipeline(
                channel, self.formats, self.mappings, self.terminology, dict(self.config.get("FACILITY", {}))
            )
        return self._pipelines[channel_name]


def get_gateway(app: Flask | None = None) -> Gateway:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["jembatan"]  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    app.extensions["jembatan"] = Gateway(app.config, app.extensions)  # type: ignore[arg-type]
