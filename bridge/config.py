"""Configuration: defaults, then a TOML or Python file, then ``JEMBATAN_*`` environment variables.

The file is named by ``JEMBATAN_CONFIG`` (or ``CONFIG_FILE`` in the mapping given to
``create_app``). TOML keys may be lower case; they are upper-cased at the top level. Environment
values are JSON-decoded when they parse (``JEMBATAN_MAX_CONTENT_LENGTH=1048576``) and nest on
``__`` (``JEMBATAN_FACILITY__TIMEZONE=Asia/Makassar``), as Flask's ``from_prefixed_env``.
A mapping passed to ``create_app`` wins over everything (tests use it).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config

from bridge.errors import ConfigError

ENV_PREFIX = "JEMBATAN"
PACKAGE_DIR = Path(__file__).resolve().parent
DEMO_CHANNELS = PACKAGE_DIR / "channels"

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "jembatan-data",
    "DATABASE_URL": None,  # default: sqlite file in DATA_DIR
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "CHANNEL_PATHS": [str(DEMO_CHANNELS)],
    "MAPPING_PATHS": [],
    "AUTO_MIGRATE": False,
    "LOAD_BUNDLED_TERMINOLOGY": True,  # used by serve/demo (prepare); tests switch it off
    "LOG_LEVEL": "INFO",
    "HTTP_HOST": "127.0.0.1",
    "HTTP_PORT": 8080,
    "MLLP_PORT": 2575,
    "MLLP_CHANNEL": "hl7v2-demo",
    "MLLP_MAX_MESSAGE_BYTES": 10 * 1024 * 1024,
    "MLLP_TLS_CERT": None,  # PEM files; both set = MLLP over TLS
    "MLLP_TLS_KEY": None,
    "MLLP_TLS_CLIENT_CA": None,  # set = client certificates required
    "FACILITY": {"timezone": "Asia/Jakarta"},
    # the demo destinations: the local simulators (``jembatan demo`` moves them to SIMULATOR_PORTS)
    "DESTINATIONS": {
        "satusehat": {
            "type": "satusehat",
            "base_url": "http://127.0.0.1:8081",
            "client_id": "sim-client",
            "client_secret": "sim-secret",
            "organization_id": "100025753",
            "backoff_base": 1,
            "backoff_max": 30,
            "max_attempts": 5,
        },
        "bpjs": {
            "type": "bpjs",
            "cons_id": "1000",
            "secret": "sim-secret",
            "user_keys": {"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
            "base_urls": {"vclaim": "http://127.0.0.1:8082/vclaim-rest", "pcare": "http://127.0.0.1:8082/pcare-rest"},
            "backoff_base": 1,
            "backoff_max": 30,
            "max_attempts": 5,
        },
    },
    "UPSTREAMS": {},
    "API_KEYS_REQUIRED": True,
    "API_KEY_CACHE_SECONDS": 5,  # verified keys are cached this long; revocation elsewhere takes effect within it
    "SIMULATOR_PORTS": {"satusehat": 8081, "bpjs": 8082, "dhis2": 8083},
}


def load_file(config: Config, path: str | os.PathLike[str]) -> None:
    file = Path(path)
    if not file.is_file():
        raise ConfigError("GW-7001", f"config file {file} does not exist")
    if file.suffix == ".toml":
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("GW-7002", f"config file {file}: {exc}") from exc
        config.update({key.upper(): value for key, value in data.items()})
    elif file.suffix == ".py":
        config.from_pyfile(str(file.resolve()))
    else:
        raise ConfigError("GW-7003", f"config file {file}: use .toml or .py")


def build_config(
    config: Config, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Fill ``config`` in precedence order: defaults < file < environment < ``overrides``."""
    environ = os.environ if environ is None else environ
    config.from_mapping(DEFAULTS)
    overrides = dict(overrides or {})
    config_file = overrides.get("CONFIG_FILE") or environ.get(f"{ENV_PREFIX}_CONFIG")
    if config_file:
        load_file(config, config_file)
    _apply_env(config, environ)
    config.update(overrides)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + str(Path(config["DATA_DIR"]).resolve() / "jembatan.sqlite3")


def _apply_env(config: Config, environ: Mapping[str, str]) -> None:
    """``JEMBATAN_KEY=value``; ``JEMBATAN_TOP__nested__key`` sets ``config["TOP"]["nested"]["key"]``
    (nested keys are lower case, as in the TOML file). Values are JSON-decoded when they parse."""
    prefix = f"{ENV_PREFIX}_"
    for name in sorted(environ):
        if not name.startswith(prefix) or name == f"{ENV_PREFIX}_CONFIG":
            continue
        top, *nested = name[len(prefix) :].split("__")
        value = _decode(environ[name])
        if not nested:
            config[top] = value
            continue
        node = config.setdefault(top, {})
        for part in nested[:-1]:
            node = node.setdefault(part.lower(), {})
        node[nested[-1].lower()] = value


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
