"""A full disk under images_dir / files_dir: the answer still arrives, with the
upstream's own URL for what could not be saved; no partial file is left; one warning is logged.
b64_json needs no disk at all.

The full disk is real: a 64 KB tmpfs, filled up (needs root to mount; skipped otherwise)."""
from __future__ import annotations

import base64
import re
import subprocess

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import CHART_FILE, blob_bytes, dalle_file


@pytest.fixture
def full_disk(tmp_path):
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        with open(mount / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def leftovers(folder) -> list[str]:
    """Files (not folders) other than the filler: partial .part files included."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.name != "filler")


def test_a_full_disk_falls_back_to_upstream_urls(make_server, fake, full_disk):
    srv = make_server(images_dir=str(full_disk / "images"), files_dir=str(full_disk / "files"))
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)

    # A DALL·E chat answer, not streamed: the image link is the upstream's own.
    answer = client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": "!dalle 1\nHere it is."}]).choices[0].message.content
    urls = re.findall(r"!\[[^\]]*\]\((\S+?)\)", answer)
    assert urls and not urls[0].startswith(srv.url), answer
    assert requests.get(urls[0]).content == blob_bytes(dalle_file(0))

    # A chart from the code interpreter (files_dir's sibling, images_dir) and a sandbox file alike.
    chart = client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": "!chart\nThe chart."}]).choices[0].message.content
    chart_urls = re.findall(r"!\[[^\]]*\]\((\S+?)\)", chart)
    assert chart_urls and requests.get(chart_urls[0]).content == blob_bytes(CHART_FILE)

    # /v1/images/generations: url falls back the same way ...
    result = client.images.generate(model="gpt-4o", prompt="!dalle 1\nan otter")
    assert not result.data[0].url.startswith(srv.url)
    assert requests.get(result.data[0].url).content == blob_bytes(dalle_file(0))
    # ... and b64_json never touches the disk.
    result = client.images.generate(model="gpt-4o", prompt="!dalle 1\nan otter", response_format="b64_json")
    assert base64.b64decode(result.data[0].b64_json) == blob_bytes(dalle_file(0))

    assert leftovers(full_disk) == []                          # no .part file anywhere
    warnings = [line for line in srv.log().splitlines() if "could not save" in line]
    assert len(warnings) == 3, warnings                        # one per failed write, no traceback
    assert "Traceback" not in srv.log()
