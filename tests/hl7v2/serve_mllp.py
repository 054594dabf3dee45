"""Run an MLLP listener in its own process (crash-safety test and benchmark).

Usage: ``python -m tests.hl7v2.serve_mllp DATA_DIR PORT_FILE`` — creates or reuses the SQLite
database in DATA_DIR, a ``hl7v2-test`` channel (hl7v2 → fhir+json, no destination), listens on a
free port, writes the port number to PORT_FILE and serves until killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

CHANNEL = """
[[channel]]
name = "hl7v2-test"
source = "hl7v2"
target = "fhir+json"
destination = "none"
[channel.settings]
timezone = "Asia/Jakarta"
"""


def main(data_dir: str, port_file: str) -> None:
    from bridge.mllp import start_mllp_server
    from tests.helpers import make_app

    root = Path(data_dir)
    channels = root / "channels"
    channels.mkdir(parents=True, exist_ok=True)
    (channels / "hl7v2-test.toml").write_text(CHANNEL, encoding="utf-8")
    app = make_app(root, CHANNEL_PATHS=[str(channels)], MLLP_CHANNEL="hl7v2-test")
    handle = start_mllp_server(app, "127.0.0.1", 0)
    tmp = Path(port_file + ".tmp")
    tmp.write_text(str(handle.port), encoding="utf-8")
    tmp.replace(port_file)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
