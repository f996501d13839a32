"""Any install works: a wheel built from this checkout, installed into a fresh virtualenv outside
the repository, runs ``reconcile demo`` (its FAIL report) and ``reconcile init`` from another
folder, with nothing of the checkout on its path. Also: the distribution's name and metadata.

Installing pandas, pyarrow and Great Expectations takes a while, so the dependencies' wheels are
kept in a cache (``~/.cache/reconcile-tests/wheelhouse-*``, one folder per lock and Python) and installed from
it without asking an index; the first run fills it through pip's ordinary index."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import reconcile

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "constraints.txt"


def pip(python: Path | str, *args: str, cwd: Path | None = None) -> None:
    outside = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}     # nothing of the checkout
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=1200, cwd=cwd, env=outside)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv with the wheel (and its [demo] extra) installed."""
    scratch = tmp_path_factory.mktemp("packaging")
    source = scratch / "source"                       # a copy, so the build leaves nothing in the checkout
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name if source.exists() else (source.mkdir() or source / name))
    shutil.copytree(REPO / "reconcile", source / "reconcile", ignore=shutil.ignore_patterns("__pycache__"))
    pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(scratch / "dist"), str(source))
    [wheel] = (scratch / "dist").glob("*.whl")
    digest = hashlib.sha256(LOCK.read_bytes() + sys.version.encode()).hexdigest()[:12]   # wheels differ per Python
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reconcile-tests" / f"wheelhouse-{digest}"
    if not (cache / "complete").exists():
        pip(sys.executable, "wheel", "--wheel-dir", str(cache), "-c", str(LOCK), f"{wheel}[demo]")
        (cache / "complete").write_text("")
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip(venv / "bin" / "python", "install", "--no-index", "--find-links", str(cache), "-c", str(LOCK), f"{wheel}[demo]")
    return venv / "bin"


def test_the_wheel_carries_everything_the_demo_and_init_need(installed):
    [wheel] = Path(installed).parents[1].joinpath("dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "reconcile").rglob("*")
               if p.is_file() and p.suffix in (".toml", ".j2", ".json") and "__pycache__" not in p.parts}
    assert shipped and shipped <= names
    assert {"reconcile/checks/shipped/order_completed.toml", "reconcile/demo/config.toml", "reconcile/init/config.toml",
            "reconcile/config/config.schema.json", "reconcile/report/templates/report.html.j2"} <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_installed_demo_fails_as_designed_from_any_folder(installed, tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env = {"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path)}          # no PYTHONPATH, no checkout
    where = subprocess.run([str(installed / "python"), "-c", "import reconcile; print(reconcile.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120)
    assert where.stdout.startswith(str(installed.parent / "lib"))
    done = subprocess.run(["reconcile", "demo", "--customers", "300"], capture_output=True, text=True, cwd=elsewhere,
                          env=env, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "FAIL:" in done.stdout and "data quality:" in done.stdout and done.stderr == ""
    [report] = (elsewhere / "reports").iterdir()
    assert {"report.html", "results.json", "discrepancies.csv"} <= {p.name for p in report.iterdir()}
    init = subprocess.run(["reconcile", "init", "project"], capture_output=True, text=True, cwd=elsewhere, env=env,
                          timeout=120)
    assert init.returncode == 0, init.stderr
    assert len(list((elsewhere / "project" / "checks").glob("*.toml"))) == 5
    smtp = subprocess.run([str(installed / "python"), "-m", "aiosmtpd", "--version"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert smtp.returncode == 0                                   # the README's debugging mail server, from [demo]


def test_the_distribution_name_license_and_python_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == "reconcile-cio" and project["scripts"] == {"reconcile": "reconcile.cli:entry_point"}
    assert project["license"] == "Apache-2.0" and (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    versions = {c.rsplit(" ", 1)[1] for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")}
    assert {"3.11", "3.13"} <= versions and project["requires-python"] == ">=3.11"
    assert reconcile.__version__ in subprocess.run([sys.executable, "-m", "reconcile", "--version"], capture_output=True,
                                                   text=True, timeout=60).stdout


def test_every_readme_command_that_needs_aiosmtpd_gets_it_from_plain_setup():
    readme = (REPO / "README.md").read_text()
    setup = (REPO / "scripts" / "setup").read_text()
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "-m aiosmtpd" in readme
    assert 'extras="demo"\n' in setup and '-e ".[$extras]"' in setup      # plain setup installs the [demo] extra
    assert any(requirement.startswith("aiosmtpd") for requirement in extras["demo"])
