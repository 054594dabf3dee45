"""Strict in-repo simulators of the upstreams, built from their documented behaviour.

Each module ``bridge/simulators/<name>.py`` exposes ``create_app(config: dict | None = None) -> Flask``;
``jembatan simulate <name>`` serves it. They are used by the tests, the benchmarks and the demo.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask

from bridge.errors import ConfigError

SIMULATORS: tuple[str, ...] = ("satusehat", "bpjs", "dhis2")


def create_simulator(name: str, config: dict[str, Any] | None = None) -> Flask:
    if name not in SIMULATORS:
        raise ConfigError("GW-7301", f"unknown simulator {name!r}; choose one of {', '.join(SIMULATORS)}")
    try:
        module = importlib.import_module(f"bridge.simulators.{name}")
    except ModuleNotFoundError as exc:
        raise ConfigError("GW-7302", f"simulator {name!r} is not available in this build") from exc
    return module.create_app(config)  # type: ignore[no-any-return]


def available() -> list[str]:
    found = []
    for name in SIMULATORS:
        try:
            importlib.import_module(f"bridge.simulators.{name}")
        except ModuleNotFoundError:
            continue
        found.append(name)
    return found
