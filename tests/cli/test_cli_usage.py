"""The command line's usage and configuration errors: one line, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

from reconcile.cli import main

CONFIG = """
[database]
url = "sqlite:///shop.db"
[customerio]
base_url = "http://127.0.0.1:9"
app_api_key = "k"
[[segments]]
name = "buyers"
customerio_segment_id = 1
sql = "SELECT 1 AS id"
"""


def test_bad_config_exit_2(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.replace("customerio_segment_id = 1", 'customerio_segment_id = "abc"'))
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == 'reconcile: error: config.toml: segments[0].customerio_segment_id: expected an integer, got "abc"\n'


def test_unknown_segment_name_exit_2(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    assert main(["run", "--config", str(config), "--segment", "nope"]) == 2
    assert capsys.readouterr().err == 'reconcile: error: no segment named "nope" in config.toml; known: buyers\n'


def test_bad_arguments_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                           # no ./config.toml, no $RECONCILE_CONFIG
    monkeypatch.delenv("RECONCILE_CONFIG", raising=False)
    assert main(["run"]) == 2
    assert capsys.readouterr().err == (f"reconcile: error: no config.toml in {tmp_path}: pass --config PATH, set "
                                       "RECONCILE_CONFIG, or write one with reconcile init\n")
    assert main(["run", "--config", "x.toml", "--as-of", "yesterday"]) == 2
    assert "not an ISO 8601 instant: 'yesterday'" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_python_dash_m_is_the_same_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "reconcile", "run", "--config", str(tmp_path / "missing.toml")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("missing.toml: no such file; pass --config PATH to your config.toml")
    assert "Traceback" not in done.stderr
