"""Saved media: unique names, safe names, and the clean-up of old files."""
import os
import time

from pandora_v1.files.media import MediaStore, safe_file_name
from pandora_v1.runtime.config import Settings


def store(tmp_path):
    settings = Settings(images_dir=str(tmp_path / "images"), files_dir=str(tmp_path / "files"))
    return MediaStore(settings, upstream=None)


def test_safe_file_names_stay_in_the_folder():
    assert safe_file_name("/mnt/data/report.csv") == "report.csv"
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("报告 2024.xlsx") == "报告_2024.xlsx"
    assert safe_file_name("..") == "file"


def test_old_media_is_deleted_and_new_kept(tmp_path):
    media = store(tmp_path)
    old = media.save("images", "old.png", b"1")
    new = media.save("files", "new.csv", b"2")
    past = time.time() - 8 * 86400
    os.utime(old, (past, past))
    assert media.delete_older_than(7) == 1
    assert not old.exists() and new.read_bytes() == b"2"


def test_the_scheduled_clean_up_job_deletes_old_media(tmp_path):
    from types import SimpleNamespace

    from pandora_v1.runtime import config
    from pandora_v1.serve import jobs

    media = store(tmp_path)
    old = media.save("images", "old.png", b"1")
    past = time.time() - 3 * 86400
    os.utime(old, (past, past))
    services = SimpleNamespace(settings=config.parse({"media_retention_days": 2}), media=media)
    job = next(job for job in jobs.default_jobs(services) if job.name == "media_cleanup")
    job.func()
    assert not old.exists()
