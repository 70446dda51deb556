"""Dockerfile and docker-compose.yml name only files that exist."""
from __future__ import annotations

import re

from tests.conftest import ROOT


def test_deployment_files_reference_only_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY . "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "USER pandora" in dockerfile and "HEALTHCHECK" in dockerfile
    assert "./scripts/setup" in dockerfile and "scripts/setup" in (ROOT / "scripts" / "run").read_text()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"build: \.", compose) and (ROOT / "Dockerfile").exists()
    for volume in re.findall(r"- \./(\w+):/app/(\w+)", compose):
        assert volume[0] == volume[1] and volume[0] in ("data", "log", "images", "files")
    assert "redis:" in compose
