"""``python -m pandora_v1 check-config``: a subprocess each, no server."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def run_check(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pandora_v1", "check-config", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_check_config_prints_masked_settings(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"upstream_api_prefix": ["very-secret-prefix"],
                                  "key_for_gpts_info": "eyJsecretsecretsecret",
                                  "redis": {"password": "hunter2hunter2"}}))
    result = run_check(str(config))
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["upstream_base_url"] == "http://127.0.0.1:8181"
    for secret in ("very-secret-prefix", "eyJsecretsecretsecret", "hunter2hunter2"):
        assert secret not in result.stdout


def test_check_config_lists_problems(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"process_workers": 0, "log_level": "LOUD"}))
    result = run_check(str(config))
    assert result.returncode != 0
    assert "process_workers" in result.stderr and "log_level" in result.stderr
