"""pandora_v1 as a package: the wheel carries its pages, declares its dependencies, and an installed
copy serves from anywhere (no checkout beside it), through its console script's module."""
from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what a checkout holds (a build leaves build/ behind in its source)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "pandora_v1", "templates", "static"):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return next(out.glob("pandora_v1-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as pip installs it (its dependencies are this interpreter's)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return target


def test_the_wheel_carries_the_pages_and_the_gunicorn_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for page in (ROOT / "templates").iterdir():
        assert f"pandora_v1/templates/{page.name}" in names
    for asset in (ROOT / "static").iterdir():
        assert f"pandora_v1/static/{asset.name}" in names
    assert "pandora_v1/serve/gunicorn_conf.py" in names


def test_the_wheel_declares_every_locked_dependency_and_the_console_script(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    declared = {line.split(">")[0].split("<")[0].split("=")[0].split("~")[0].strip().lower()
                for line in email.message_from_bytes(archive.read(info)).get_all("Requires-Dist")}
    locked = {line.split("==")[0].strip().lower() for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert locked <= declared, f"locked but not declared: {locked - declared}"
    entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt"))).decode()
    assert "pandora-v1 = pandora_v1.__main__:main" in entry_points


def _env(installed: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PANDORA_V1_CONFIG")}
    return {**env, "PYTHONPATH": str(installed)}


def test_an_installed_copy_checks_a_config_from_elsewhere(installed, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"upstream_base_url": "http://127.0.0.1:9"}))
    result = subprocess.run([sys.executable, "-m", "pandora_v1", "check-config", "config.json"], cwd=tmp_path,
                            env=_env(installed), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["upstream_base_url"] == "http://127.0.0.1:9"


def test_an_installed_copy_serves_its_pages_through_its_gunicorn_config(installed, tmp_path, fake):
    port = free_port()
    (tmp_path / "config.json").write_text(json.dumps({
        "upstream_base_url": fake.url, "bind": f"127.0.0.1:{port}", "process_workers": 1,
        "need_log_to_file": False, "data_dir": str(tmp_path / "data")}))
    process = subprocess.Popen([sys.executable, "-m", "pandora_v1"], cwd=tmp_path, env=_env(installed),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
                assert time.monotonic() < deadline, "the installed server did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "pandora_v1" in page.text
        script = requests.get(f"http://127.0.0.1:{port}/static/app.js", timeout=5)
        assert script.status_code == 200 and script.text == (ROOT / "static" / "app.js").read_text()
        # The code that runs is the installed copy, not a checkout's.
        loaded = subprocess.run([sys.executable, "-c", "import pandora_v1; print(pandora_v1.__file__)"],
                                cwd=tmp_path, env=_env(installed), capture_output=True, text=True, timeout=30)
        assert loaded.stdout.strip().startswith(str(installed))
    finally:
        process.terminate()
        process.wait(timeout=30)
