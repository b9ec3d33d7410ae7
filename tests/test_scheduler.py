"""The scheduler's pieces in-process: schedules, job settings, catch-up, health, config, history, pruning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner

from newsdesk.ops import scheduling
from newsdesk.ops import crawl
from newsdesk.cli.main import cli
from newsdesk.ops.config import ConfigError, load_config
from newsdesk.ops.crawl import settle_orphans, source_lock_path
from newsdesk.ops.health import check_run, check_stale, evaluate_run
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock
from newsdesk.ops.runs import RunHistory, RunRecord, prune
from newsdesk.ops.schedules import ScheduleError, plan_for
from scraper.sources import Source, SourceConfigError, load_sources

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday
CONFIG = load_config(None)


def source(schedule: str, zone: str = "Asia/Jerusalem") -> Source:
    return Source(id="s", spider="jpost_breaking", urls=("http://127.0.0.1/",), timezone=zone, schedule=schedule)


def started(sched: BackgroundScheduler) -> BackgroundScheduler:
    sched.start(paused=True)
    return sched


# --- schedules and job settings ------------------------------------------------------

def test_one_job_per_enabled_source_with_the_settings_that_matter(tmp_path: Path) -> None:
    sched = started(scheduling.build_scheduler(Home(tmp_path), BackgroundScheduler, now=NOW))
    try:
        jobs = {j.id: j for j in sched.get_jobs()}
        enabled = {s.id for s in load_sources().values() if s.enabled}
        assert set(jobs) == enabled | {"_housekeeping"}
        job = jobs["jpost-breaking"]
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == 600  # one interval of */10
        assert job.trigger.jitter == 30.0
        assert str(job.trigger.timezone) == "Asia/Jerusalem"
    finally:
        sched.shutdown(wait=False)


def test_disabled_sources_get_no_job(tmp_path: Path) -> None:
    enabled = [s.id for s in load_sources().values() if s.enabled]
    (tmp_path / "sources.toml").write_text("".join(f"[sources.{i}]\nenabled = false\n" for i in enabled))
    assert [j.id for j in scheduling.build_scheduler(Home(tmp_path), now=NOW).get_jobs()] == ["_housekeeping"]


@pytest.mark.parametrize("bad", ["every now and then", "every 0m", "every 5 fortnights", "61 * * * *", "* * * *"])
def test_bad_schedule_names_the_source(tmp_path: Path, bad: str) -> None:
    (tmp_path / "sources.toml").write_text(f'[sources.jpost-breaking]\nschedule = "{bad}"\n')
    with pytest.raises(SourceConfigError, match=r"\[sources.jpost-breaking\] schedule") as caught:
        scheduling.build_scheduler(Home(tmp_path), now=NOW)
    assert isinstance(caught.value, ScheduleError) and caught.value.hint


def test_every_interval_grace_and_jitter_cap() -> None:
    plan = plan_for(source("every 10m"), jitter=30, now=NOW)
    assert plan.interval == timedelta(minutes=10) and plan.misfire_grace_time == 600 and plan.jitter == 30
    short = plan_for(source("every 1m"), jitter=30, now=NOW)
    assert short.jitter == 6 and short.misfire_grace_time == 60  # jitter at most a tenth of the interval
    assert plan_for(source("every 5s"), now=NOW).misfire_grace_time == 30  # never below 30 s


def test_cron_reads_crontab_weekdays_and_the_source_zone() -> None:
    sunday = plan_for(source("0 9 * * 0"), now=NOW)  # crontab: 0 = Sunday (APScheduler 3.x: Monday)
    fire = sunday.next_run(NOW)
    assert fire is not None and fire.strftime("%A %H:%M %Z") == "Sunday 09:00 IST"
    assert sunday.interval == timedelta(days=7)
    weekdays = plan_for(source("30 6 * * 1-5", zone="UTC"), now=NOW)
    assert weekdays.interval == timedelta(days=3)  # the weekend gap is the longest
    assert plan_for(source("0 9 * * 0"), zone="UTC", now=NOW).next_run(NOW).strftime("%H:%M %Z") == "09:00 UTC"


def test_configured_zone_overrides_the_sources(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[schedule]\ntimezone = "Europe/London"\n')
    sched = started(scheduling.build_scheduler(Home(tmp_path), BackgroundScheduler, now=NOW))
    try:
        assert str(sched.get_job("jpost-breaking").trigger.timezone) == "Europe/London"
    finally:
        sched.shutdown(wait=False)


# --- catch-up --------------------------------------------------------------------------

def _run(history: RunHistory, run_id: str, at: datetime, status: str = "ok", source_id: str = "jpost-breaking",
         **counts: int) -> None:
    history.start(run_id, source_id, "scheduled", None, started=at)
    history.finish(run_id, status, ended=at + timedelta(seconds=5), **counts)


@pytest.mark.parametrize(("last_ok_ago", "catch_up"), [(None, True), (timedelta(minutes=25), True),
                                                       (timedelta(minutes=5), False)])
def test_catch_up_on_start_when_the_last_good_run_is_older_than_an_interval(
        tmp_path: Path, last_ok_ago: timedelta | None, catch_up: bool) -> None:
    home = Home(tmp_path)
    history = RunHistory(home)
    if last_ok_ago is not None:
        _run(history, "r1", NOW - last_ok_ago)
    _run(history, "r2", NOW - timedelta(minutes=2), status="failed")  # a failure does not count as caught up
    runner = scheduling.Runner(home, CONFIG)
    sched = started(scheduling.build_scheduler(home, BackgroundScheduler, runner=runner, now=NOW))
    try:
        job = sched.get_job("jpost-breaking")
        assert (job.next_run_time == NOW) is catch_up
        assert ("jpost-breaking" in runner.catch_up) is catch_up
    finally:
        sched.shutdown(wait=False)


# --- health ----------------------------------------------------------------------------

def rec(run_id: str, status: str = "ok", seen: int = 16, **stats: int) -> RunRecord:
    return RunRecord(run_id=run_id, source="s", trigger="scheduled", started=NOW, ended=NOW, status=status,
                     seen=seen, stats={k.replace("__", "/"): v for k, v in stats.items()})


def cov(items: int, published: int, authors: int, body: int) -> dict[str, int]:
    return {"newsdesk__coverage__items": items, "newsdesk__coverage__published": published,
            "newsdesk__coverage__authors": authors, "newsdesk__coverage__body": body}


def test_zero_items_alerts_only_when_the_source_usually_yields_some() -> None:
    (alert,) = check_run(rec("now", seen=0, newsdesk__layout__no_items=1), [rec("a"), rec("b", seen=14)], CONFIG)
    assert alert.kind == "zero_items" and "usually 15" in alert.message and alert.details["layout"] == ["no_items"]
    assert check_run(rec("now", seen=0), [rec("a", seen=0)], CONFIG) == []
    assert check_run(rec("now", seen=0), [], CONFIG) == []


def test_coverage_far_below_the_recent_average() -> None:
    earlier = [rec(f"e{i}", **cov(16, 16, 8, 15)) for i in range(3)]
    alerts = check_run(rec("now", **cov(16, 16, 8, 2)), earlier, CONFIG)
    assert [(a.kind, a.details["field"]) for a in alerts] == [("coverage", "body")]
    assert "body found in 12% of items (usually 94%)" in alerts[0].message
    assert check_run(rec("now", **cov(16, 15, 6, 12)), earlier, CONFIG) == []  # a dip, not a collapse
    assert check_run(rec("now", **cov(3, 0, 0, 0)), earlier, CONFIG) == []  # too few items to judge


def test_many_unreadable_dates() -> None:
    (alert,) = check_run(rec("now", seen=10, newsdesk__date_unreadable__published=6), [], CONFIG)
    assert alert.kind == "unreadable_dates" and "6 dates could not be read (of 10 items)" in alert.message
    assert check_run(rec("now", seen=10, newsdesk__date_unreadable__published=1), [], CONFIG) == []


def test_failed_runs_in_a_row_are_a_problem_from_the_nth_failure() -> None:
    failures = [rec(f"f{i}", status="failed" if i % 2 else "unreachable") for i in range(6)]
    assert check_run(failures[0], failures[1:2], CONFIG) == []  # 2 in a row
    (alert,) = check_run(failures[0], failures[1:3], CONFIG)  # 3 in a row
    assert alert.kind == "failed_runs" and "3 failed runs in a row" in alert.message
    assert [a.kind for a in check_run(failures[0], failures[1:4], CONFIG)] == ["failed_runs"]  # still a problem
    assert check_run(failures[0], [failures[1], rec("ok"), *failures[2:]], CONFIG) == []
    skipped = rec("skip", status="skipped")
    assert [a.kind for a in check_run(failures[0], [failures[1], skipped, failures[2]], CONFIG)] == ["failed_runs"]


def finish_run(home: Home, n: int, status: str, **stats: int) -> list[str]:
    """Record run ``n`` of source s as finished, evaluate its health; the kinds of the alerts delivered."""
    history = RunHistory(home)
    run_id = f"run-{n:03d}"
    history.start(run_id, "s", "scheduled", None, started=NOW + timedelta(minutes=n))
    history.finish(run_id, status, seen=stats.pop("seen", 16), ended=NOW + timedelta(minutes=n),
                   stats={k.replace("__", "/"): v for k, v in stats.items()})
    return [a.kind for a in evaluate_run(home, CONFIG, run_id)]


def test_an_alert_fires_once_per_problem_until_it_clears(tmp_path: Path) -> None:
    home = Home(tmp_path)
    assert [finish_run(home, n, "failed") for n in range(6)] == [[], [], ["failed_runs"], [], [], []]
    assert finish_run(home, 6, "stopped") == [] and finish_run(home, 7, "failed") == []  # neither clears it
    assert finish_run(home, 8, "ok") == []  # recovered
    assert [finish_run(home, 9 + n, "unreachable") for n in range(3)] == [[], [], ["failed_runs"]]
    sent = list(reversed(RunHistory(home).alerts("s")))
    assert [a.kind for a in sent] == ["failed_runs", "recovered", "failed_runs"]
    assert sent[1].message == "s: recovered: failed_runs" and sent[1].run_id == "run-008"
    # A problem an ok run shows stays open through a failed run (which cannot judge it).
    assert finish_run(home, 20, "ok", seen=10, newsdesk__date_unreadable__published=6) == ["unreadable_dates"]
    assert finish_run(home, 21, "failed") == []
    assert finish_run(home, 22, "ok", seen=10, newsdesk__date_unreadable__published=6) == []
    assert finish_run(home, 23, "ok", seen=10) == []
    assert finish_run(home, 24, "ok", seen=10, newsdesk__date_unreadable__published=6) == ["unreadable_dates"]


def test_not_run_for_three_intervals() -> None:
    last = rec("last")
    assert check_stale("s", last, timedelta(minutes=10), CONFIG, now=NOW + timedelta(minutes=29)) is None
    alert = check_stale("s", last, timedelta(minutes=10), CONFIG, now=NOW + timedelta(minutes=31))
    assert alert is not None and alert.kind == "stale" and "not run for 31m" in alert.message
    assert check_stale("s", None, timedelta(minutes=10), CONFIG, now=NOW) is None


# --- config ----------------------------------------------------------------------------

def test_config_overrides_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[health]\nalert_command = "notify-send \'news desk\'"\n[crawl]\nsettings = {DOWNLOAD_DELAY = 0}\n')
    config = load_config(path)
    assert config.alert_command == ["notify-send", "news desk"]
    assert config.crawl_settings == {"DOWNLOAD_DELAY": "0"}
    assert config.stop_timeout == 60 and config.data["health"]["failed_runs"] == 3  # untouched defaults


@pytest.mark.parametrize(("text", "expected"), [
    ("[schedule]\njitter = 5\n\n[health]\nfaild_runs = 3\n", ["line 5", "[health] faild_runs", "unknown key"]),
    ("[schedule]\nstop_timeout = \"soon\"\n", ["line 2", "[schedule] stop_timeout", "must be a number"]),
    ("[schedule]\ncatch_up = 1\n", ["line 2", "catch_up", "true or false"]),
    ("[schedule]\ntimezone = \"Mars/Base\"\n", ["line 2", "timezone", "Mars/Base"]),
    ("[alarms]\ncommand = \"x\"\n", ["line 1", "unknown section [alarms]"]),
    ("[alerts]\ncommand = \"x\"\n", ["line 2", "[alerts] command: unknown key"]),
    ("[schedule\n", ["invalid TOML", "line 1"]),
    ("[health]\nfailed_runs = -1\n", ["line 2", "must not be negative"]),
])
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_bad_config_is_one_line_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[health]\nwindow = \"ten\"\n")
    result = CliRunner().invoke(cli, ["status", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "line 2: [health] window must be a whole number" in result.stderr
    assert "Traceback" not in result.output


# --- history, orphans, pruning ---------------------------------------------------------

def test_orphaned_runs_are_settled_unless_their_crawl_still_holds_the_lock(tmp_path: Path) -> None:
    home = Home(tmp_path)
    history = RunHistory(home)
    history.start("dead", "jpost-breaking", "scheduled", None, started=NOW)
    history.start("finished", "other", "scheduled", None, started=NOW)
    history.start("alive", "third", "scheduled", None, started=NOW)
    home.ensure(home.runs)
    (home.runs / "finished.json").write_text(json.dumps({"finish_reason": "finished", "stats": {
        "item_scraped_count": 4, "newsdesk/items_new": 4, "downloader/response_count": 5,
        "finish_time": "2026-03-04T12:00:09"}}))
    with FileLock(source_lock_path(home, "third")):
        assert sorted(settle_orphans(home)) == ["dead", "finished"]
    dead, done, alive = history.get("dead"), history.get("finished"), history.get("alive")
    assert dead is not None and dead.status == "interrupted" and "died" in dead.message
    assert done is not None and (done.status, done.seen, done.new) == ("ok", 4, 4) and done.duration == 9
    assert alive is not None and alive.status == "running"


def test_prune_by_age_and_size_keeps_the_newest_run_per_source(tmp_path: Path) -> None:
    home = Home(tmp_path)
    history = RunHistory(home)
    _run(history, "old-a", NOW - timedelta(days=90))
    _run(history, "old-b", NOW - timedelta(days=80))
    _run(history, "only", NOW - timedelta(days=90), source_id="quiet-source")
    _run(history, "new-a", NOW - timedelta(days=1))
    home.ensure(home.logs, home.runs)
    for name, days, size in (("20250101T000000Z-old", 90, 10), ("20260301T000000Z-a", 3, 600),
                             ("20260302T000000Z-b", 2, 600), ("20260303T000000Z-c", 1, 600)):
        for path in (home.logs / f"{name}.log", home.runs / f"{name}.json"):
            path.write_bytes(b"x" * size)
            stamp = (NOW - timedelta(days=days)).timestamp()
            os.utime(path, (stamp, stamp))
    (home.logs / "scheduler.log").write_text("the scheduler's own log rotates by size on its own\n")
    removed = prune(home, keep_days=60, max_log_bytes=1300, now=NOW)
    assert removed == {"runs": 2, "reports": 1, "logs": 2}
    assert sorted(p.name for p in home.logs.iterdir()) == ["20260302T000000Z-b.log", "20260303T000000Z-c.log",
                                                           "scheduler.log"]
    assert sorted(r.run_id for r in history.runs(limit=None)) == ["new-a", "only"]


def test_runs_and_status_commands_on_an_empty_home(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["runs", "--json", "--home", str(tmp_path)]).stdout.strip() == "[]"
    result = runner.invoke(cli, ["status", "--home", str(tmp_path)])
    assert result.exit_code == 0 and "scheduler: not running" in result.stdout
    assert "jpost-breaking" in result.stdout and "never" in result.stdout


def test_status_shows_history_and_health(tmp_path: Path) -> None:
    home = Home(tmp_path)
    history = RunHistory(home)
    with time_machine.travel(NOW, tick=False):
        _run(history, "r1", NOW - timedelta(minutes=50), seen=16, new=16)
        _run(history, "r2", NOW - timedelta(minutes=40), seen=16)
        result = CliRunner().invoke(cli, ["status", "--json", "--home", str(tmp_path)])
        table = CliRunner().invoke(cli, ["runs", "--home", str(tmp_path)]).stdout
    row = json.loads(result.stdout)["sources"][0]
    assert row["last_run"]["run_id"] == "r2" and row["next_run"] == "2026-03-04T14:10:00+02:00"
    assert [a["kind"] for a in row["alerts"]] == ["stale"] and "not run for 40m" in row["alerts"][0]["message"]
    assert table.splitlines()[0].split()[:4] == ["STARTED", "SOURCE", "TRIGGER", "STATUS"]
    assert len(table.splitlines()) == 3


def test_sigterm_handed_to_another_thread_still_stops_the_scheduler_promptly(tmp_path: Path) -> None:
    # The kernel may deliver a process's SIGTERM to any thread; Python runs the
    # handler only when the main thread wakes, so the main thread must not sleep
    # until the next job (here: housekeeping, 10 minutes away).
    import signal
    import threading

    enabled = [s.id for s in load_sources().values() if s.enabled]
    (tmp_path / "sources.toml").write_text("".join(f"[sources.{i}]\nenabled = false\n" for i in enabled))
    home, config = Home(tmp_path), load_config(None)
    runner = scheduling.Runner(home, config)
    sched = scheduling.build_scheduler(home, config=config, runner=runner, now=NOW)
    sender = threading.Thread(target=lambda: (time.sleep(0.5), signal.pthread_kill(threading.get_ident(), signal.SIGTERM)))
    start = time.monotonic()
    sender.start()
    assert scheduling._serve(sched, runner, config) == 0
    assert time.monotonic() - start < 5
    assert runner.stop.requested and not sched.running


def test_a_second_scheduler_on_the_same_home_is_refused(tmp_path: Path) -> None:
    home = Home(tmp_path)
    with FileLock(scheduling.scheduler_lock_path(home)):
        start = time.monotonic()
        with pytest.raises(scheduling.SchedulerBusy, match="already running"):
            scheduling.run(tmp_path)
        assert time.monotonic() - start < 5


def test_next_run_of_an_interval_counts_from_the_last_start() -> None:
    plan = plan_for(source("every 10m", zone="UTC"), now=NOW)
    assert plan.next_run(NOW, NOW - timedelta(minutes=4)) == NOW + timedelta(minutes=6)
    assert plan.next_run(NOW, None) == NOW and plan.next_run(NOW, NOW - timedelta(hours=1)) == NOW


STUBBORN = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: print('term', flush=True))\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n")


def test_a_crawl_over_its_timeout_is_stopped_then_forced_then_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crawl, "FORCE_GRACE", 0.2)
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    outcome = crawl.CrawlOutcome(source="s", run_id="r", exit_code=0, log_file=Path("x.log"))
    start = time.monotonic()
    code = crawl._wait(proc, outcome, None, timeout=0.2, kill_after=0.2)  # type: ignore[arg-type]
    assert code == -9 and outcome.timed_out and outcome.status == "timeout"
    assert proc.stdout.read() == "term\nterm\n"  # asked twice, then killed
    assert time.monotonic() - start < 5


def test_a_stop_request_lets_the_crawl_finish_within_its_grace() -> None:
    stop = crawl.StopRequest(grace=5.0, kill_after=5.0)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    stop.set()
    outcome = crawl.CrawlOutcome(source="s", run_id="r", exit_code=0, log_file=Path("x.log"))
    assert crawl._wait(proc, outcome, stop, timeout=None, kill_after=5.0) == 0  # type: ignore[arg-type]
    assert not outcome.stopped


def test_ctrl_c_handed_to_another_thread_stops_a_manual_crawl_promptly(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import signal
    import threading

    def crawl_until_stopped(home: Home, src: object, *args: object, stop: crawl.StopRequest, **kw: object) -> str:
        time.sleep(0.3)  # the main thread is waiting for the outcomes by now
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # this pool thread, not the main one
        return "stopped" if stop.event.wait(10) else "ran on"

    monkeypatch.setattr(crawl, "run_crawl", crawl_until_stopped)
    start = time.monotonic()
    assert crawl.run_crawls(Home(tmp_path), [source("every 1h")]) == ["stopped"]  # type: ignore[comparison-overlap]
    assert time.monotonic() - start < 5
