"""A crash is never a verdict: an exception that is a bug of ours ends in one line naming the
file that holds its traceback (secrets replaced there too), and exit 3, never 1."""

from __future__ import annotations

import stat
import tempfile

import jinja2
import pytest

from reconcile.cli import main

from known_stage import FIRST_THREE, KEY, fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.mark.parametrize("segment_id", [FIRST_THREE], ids=["a FAIL run"])
def test_an_unexpected_exception_is_exit_3_with_its_traceback_in_a_private_file(stage, sandbox, tmp_path, monkeypatch,
                                                                               capsys, segment_id):
    config = write_config(tmp_path, stage[0], sandbox.url, segment_id=segment_id)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()

    def bug(*args, **kwargs):                 # what no input here reaches: a bug in a library we call
        raise RuntimeError(f"renderer broke near {KEY}")
    monkeypatch.setattr(jinja2.Template, "render", bug)
    code = main(["run", "--config", str(config), "--quiet"])
    err = capsys.readouterr().err
    assert code == 3                                          # the run was a FAIL, but nothing was kept: not 1
    [crash] = (tmp_path / "tmp" / "reconcile").iterdir()
    assert err == (f"reconcile: internal error: RuntimeError: renderer broke near ***; the traceback is in {crash}; "
                   "please report it with that file\n")
    saved = crash.read_text()
    assert saved.startswith("Traceback (most recent call last):") and "in bug" in saved
    assert KEY not in saved and "renderer broke near ***" in saved
    assert stat.S_IMODE(crash.stat().st_mode) == 0o600
    assert not [p for p in (tmp_path / "reports").iterdir()]  # and no folder, not even a hidden one
