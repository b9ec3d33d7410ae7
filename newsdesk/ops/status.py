"""The status report: every source's last run, next run and health, the scheduler, the quarantine.

``newsdesk status`` prints it and the web app's /status page shows it; both take it from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def source_status(where: Any, config: Any, now: datetime) -> dict[str, Any]:
    """Every source's last run, next run and health, plus whether a scheduler runs."""
    from newsdesk.ops.crawl import settle_orphans
    from newsdesk.ops.health import check_run, check_stale
    from newsdesk.core.locks import is_locked
    from newsdesk.ops.runs import RunHistory
    from newsdesk.ops.schedules import plan_for
    from newsdesk.ops.scheduling import scheduler_lock_path
    from scraper.sources import load_sources

    has_history = where.runs_db.exists()
    if has_history:
        settle_orphans(where)
    history = RunHistory(where)
    lock = scheduler_lock_path(where)
    running = is_locked(lock)
    pid = lock.read_text().strip() if running else None
    window = max(int(config.data["health"]["window"]), int(config.data["health"]["failed_runs"])) * 3
    rows = []
    origin = str(where.sources_file) if where.sources_file.exists() else "(shipped) scraper/sources.toml"
    for source in load_sources(where.sources_file).values():
        plan = plan_for(source, config.schedule_timezone or None, config.jitter, now, origin)
        finished = history.runs(source.id, limit=window, finished=True) if has_history else []
        finished = [r for r in finished if r.status != "skipped"]  # a skip says nothing of the source's health
        current = [r for r in history.running() if r.source == source.id] if has_history else []
        last = finished[0] if finished else None
        alerts = check_run(last, finished[1:], config) if last else []
        newest = current[-1] if current else last
        stale = check_stale(source.id, newest, plan.interval, config, now) if source.enabled else None
        if stale:
            alerts.append(stale)
        rows.append({
            "source": source.id,
            "enabled": source.enabled,
            "schedule": source.schedule,
            "timezone": plan.zone,
            "interval_seconds": plan.interval.total_seconds(),
            "last_run": last.to_json() if last else None,
            "running": current[-1].to_json() if current else None,
            "next_run": _iso(plan.next_run(now, newest.started if newest else None)) if source.enabled else None,
            "health": ("failed" if last and last.failed else "alert" if alerts
                       else "ok" if last else "unknown"),
            "alerts": [a.to_json() for a in alerts],
        })
    from index.ingest import quarantined_records

    set_aside, files = quarantined_records(where)
    return {"scheduler": {"running": running, "pid": int(pid) if pid and pid.isdigit() else None},
            "sources": rows,
            "quarantine": {"records": set_aside, "files": files, "directory": str(where.quarantine)}}
