from pathlib import Path

import pytest
from flask import Config

from bridge import create_app
from bridge.config import build_config
from bridge.errors import ConfigError


def _config(overrides=None, environ=None) -> Config:
    config = Config(".")
    build_config(config, overrides, environ or {})
    return config


def test_defaults_apply_without_any_source():
    config = _config()
    assert config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
    assert config["DATABASE_URL"].startswith("sqlite:///")
    assert config["DATABASE_URL"].endswith("jembatan.sqlite3")


def test_file_overrides_defaults_and_env_overrides_file(tmp_path: Path):
    file = tmp_path / "jembatan.toml"
    file.write_text('http_port = 9000\nmllp_port = 3000\n[facility]\ntimezone = "Asia/Makassar"\n')
    env = {"JEMBATAN_CONFIG": str(file), "JEMBATAN_MLLP_PORT": "4000", "JEMBATAN_FACILITY__TIMEZONE": "Asia/Jayapura"}
    config = _config(environ=env)
    assert config["HTTP_PORT"] == 9000
    assert config["MLLP_PORT"] == 4000
    assert config["FACILITY"]["timezone"] == "Asia/Jayapura"
    assert "CONFIG" not in config


def test_explicit_mapping_wins_over_environment(tmp_path: Path):
    config = _config({"HTTP_PORT": 1234}, {"JEMBATAN_HTTP_PORT": "5678"})
    assert config["HTTP_PORT"] == 1234


def test_python_config_file(tmp_path: Path):
    file = tmp_path / "settings.py"
    file.write_text("MLLP_PORT = 2600\nlowercase_is_ignored = 1\n")
    config = _config({"CONFIG_FILE": str(file)})
    assert config["MLLP_PORT"] == 2600
    assert "lowercase_is_ignored" not in config


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [("missing.toml", None, "GW-7001"), ("bad.toml", "x = [", "GW-7002"), ("conf.yaml", "a: 1", "GW-7003")],
)
def test_bad_config_file_is_a_config_error(tmp_path: Path, name, content, code):
    file = tmp_path / name
    if content is not None:
        file.write_text(content)
    with pytest.raises(ConfigError) as info:
        _config({"CONFIG_FILE": str(file)})
    assert info.value.code == code


def test_database_url_from_environment(monkeypatch, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.setenv("JEMBATAN_DATABASE_URL", url)
    app = create_app()
    assert app.config["DATABASE_URL"] == url


def test_factory_is_not_testing_by_default_and_testing_when_told(tmp_path: Path):
    assert not create_app({"DATA_DIR": str(tmp_path)}).testing
    assert create_app({"DATA_DIR": str(tmp_path), "TESTING": True}).testing
