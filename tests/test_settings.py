"""Crawl settings that keep a crawl to itself: no remote control, no telnet, nothing written outside the home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

import scraper.settings as project_settings
from tests.generated_site import serve_generated


def test_no_remote_control_or_telnet_extension_is_enabled() -> None:
    assert project_settings.TELNETCONSOLE_ENABLED is False
    assert project_settings.REMOTE_CONTROL_ENABLED is False
    settings = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    crawler = get_crawler(settings_dict=settings)
    crawler._apply_settings()
    enabled = {type(e).__name__ for e in crawler.extensions.middlewares}
    assert not enabled & {"TelnetConsole", "RemoteControl"}, enabled


@pytest.mark.e2e
def test_a_crawl_writes_nothing_outside_the_home(tmp_path: Path) -> None:
    user = tmp_path / "user"
    dirs = {name: user / sub for name, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"),
                                              ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache"),
                                              ("XDG_CONFIG_HOME", ".config"), ("XDG_RUNTIME_DIR", "run"))}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "newsdesk-home"
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    before = sorted(user.rglob("*"))
    with serve_generated(3) as site:
        result = subprocess.run(
            [sys.executable, "-m", "newsdesk", "crawl", "jpost-breaking", "--url", site.url("/breaking-news"),
             "--home", str(home), "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"],
            capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 seen, 3 new" in result.stdout
    assert sorted(user.rglob("*")) == before  # not a file, not a directory (Scrapy's job_files)
    assert not list((tmp_path / "tmp").iterdir())
    log = next((home / "logs").glob("*.log")).read_text()
    assert "Telnet console listening" not in log and "TelnetConsole" not in log
    assert "RemoteControl" not in log and "remote control" not in log.lower()
