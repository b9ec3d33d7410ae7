"""The scheduler builds one job per enabled source from its cron schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

import scheduler
from newsdesk.home import Home
from scraper.sources import SourceConfigError, load_sources


def test_one_job_per_enabled_source(tmp_path: Path) -> None:
    sched = scheduler.build_scheduler(Home(tmp_path), BackgroundScheduler)
    sched.start(paused=True)
    try:
        jobs = sched.get_jobs()
        enabled = [s.id for s in load_sources().values() if s.enabled]
        assert sorted(j.id for j in jobs) == sorted(enabled)
        job = sched.get_job("jpost-breaking")
        assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 300
        assert str(job.trigger.timezone) == "Asia/Jerusalem"
    finally:
        sched.shutdown(wait=False)


def test_disabled_sources_get_no_job(tmp_path: Path) -> None:
    enabled = [s.id for s in load_sources().values() if s.enabled]
    (tmp_path / "sources.toml").write_text("".join(f"[sources.{i}]\nenabled = false\n" for i in enabled))
    assert scheduler.build_scheduler(Home(tmp_path)).get_jobs() == []


def test_bad_schedule_names_the_source(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[sources.jpost-breaking]\nschedule = "every now and then"\n')
    with pytest.raises(SourceConfigError, match="jpost-breaking"):
        scheduler.build_scheduler(Home(tmp_path))
