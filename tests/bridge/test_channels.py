from pathlib import Path

import pytest

from bridge.channels import load_channel_files
from bridge.errors import ConfigError
from tests.helpers import make_app, new_key

BROKEN = """
[[channel]]
name = "broken"
source = "no-such-format"
target = "fhir+json"
destination = "nowhere"
validators = ["nope"]
[channel.pins]
administrative-gender = "9.9.9"
"""


def _broken_app(tmp_path: Path):
    (tmp_path / "broken.toml").write_text(BROKEN)
    return make_app(tmp_path, CHANNEL_PATHS=[str(tmp_path / "broken.toml")])


def test_channels_command_reports_every_problem(tmp_path):
    result = _broken_app(tmp_path).test_cli_runner().invoke(args=["channels"])
    assert result.exit_code == 1
    for fragment in ("no-such-format", "nowhere", "'nope' is unknown", "9.9.9"):
        assert fragment in result.output


def test_ingest_into_a_misconfigured_channel_is_a_500_outcome_naming_it(tmp_path):
    app = _broken_app(tmp_path)
    headers = {"Authorization": f"Bearer {new_key(app)}"}
    resp = app.test_client().post("/channels/broken/messages", data=b"{}", headers=headers)
    assert resp.status_code == 500
    assert resp.json["issue"][0]["details"]["coding"][0]["code"] == "GW-7207"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("[[channel]]\nsource = 'x'\n", "GW-7201"),
        ("[[channel", "GW-7202"),
        ("[[channel]]\nname='a'\nsource='x'\n[[channel]]\nname='a'\nsource='x'\n", "GW-7203"),
    ],
)
def test_bad_channel_files_are_config_errors(tmp_path, content, code):
    (tmp_path / "c.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_channel_files([tmp_path / "c.toml"])
    assert info.value.code == code


def test_missing_channel_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_channel_files([tmp_path / "absent"])
    assert info.value.code == "GW-7204"


def test_bundled_demo_channels_have_no_problems(app):
    assert app.extensions["jembatan"].check() == []
