"""Record a source's pages as fixtures, replay them, and say field by field what drifted.

``record`` runs a real crawl (a ``scrapy crawl`` subprocess with the project's
settings and politeness) with :class:`scraper.replay.RecordMiddleware` on, saves
what it downloaded in the fixture format (:mod:`scraper.fixtures`), then
replays the saved pages to write the expected records.  ``check`` replays the
pages through the same spider and pipelines, with the clock frozen at each
start page's fetch time, and compares the records with ``expected.json``;
``check --live`` crawls the recorded start URLs anew instead.

Every crawl here runs in a scratch data home (a temporary directory holding a
copy of the user's ``sources.toml``), so records never depend on, or reach,
the user's seen store, outbox or archive.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from newsdesk.ops.crawl import CrawlOutcome, run_crawl
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from scraper.fixtures import (
    KEPT_HEADERS, PAGES, Fixture, FixtureError, Page, find_fixtures, load_expected, page_file, save_expected, stable,
)
from scraper.sources import Source, load_sources
from scraper.warcfile import WarcRun, read_capture, run_id_of, warc_files, warc_root

logger = logging.getLogger(__name__)

ADDON = json.dumps({"scraper.replay.FixturesAddon": 0})
CRAWL_TIMEOUT = 600.0


class RecordError(NewsdeskError):
    """A recording could not be made (the site failed, or the crawl did); nothing was written."""


# --- comparing records -----------------------------------------------------------------

@dataclass
class FieldChange:
    """One field of one record: what was expected, what came out."""

    name: str
    old: Any
    new: Any


@dataclass
class RecordChange:
    """A record present on both sides whose fields differ."""

    key: str
    title: str | None
    fields: list[FieldChange]


@dataclass
class Drift:
    """How the records that came out differ from the expected ones."""

    missing: list[dict[str, Any]] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    changed: list[RecordChange] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def summary(self) -> str:
        return f"{len(self.changed)} changed, {len(self.missing)} missing, {len(self.extra)} extra"

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing": [{"key": r["key"], "title": r.get("title")} for r in self.missing],
            "extra": [{"key": r["key"], "title": r.get("title")} for r in self.extra],
            "changed": [{"key": c.key, "title": c.title,
                         "fields": {f.name: {"old": f.old, "new": f.new} for f in c.fields}}
                        for c in self.changed],
        }


def compare(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> Drift:
    """Match records by key and compare them field by field (volatile fields left out)."""
    old = {r["key"]: stable(r) for r in expected}
    new = {r["key"]: stable(r) for r in got if r.get("key")}
    drift = Drift(missing=[old[k] for k in sorted(old.keys() - new.keys())],
                  extra=[new[k] for k in sorted(new.keys() - old.keys())])
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        changes = [FieldChange(name, a.get(name), b.get(name))
                   for name in list(a) + [n for n in b if n not in a] if a.get(name) != b.get(name)]
        if changes:
            drift.changed.append(RecordChange(key, b.get("title") or a.get("title"), changes))
    return drift


def describe_drift(drift: Drift, indent: str = "  ") -> list[str]:
    """A short diff for a person: ``- missing``, ``+ extra``, ``~ key`` with ``field: old → new``."""
    lines: list[str] = []
    for change in drift.changed:
        lines.append(f"{indent}~ {change.key}  {_short(change.title, 50)}")
        for f in change.fields:
            old, new = _pair(f.old, f.new)
            lines.append(f"{indent}    {f.name}: {old} → {new}")
    for record in drift.missing:
        lines.append(f"{indent}- missing: {record['key']}  {_short(record.get('title'), 50)}")
    for record in drift.extra:
        lines.append(f"{indent}+ extra: {record['key']}  {_short(record.get('title'), 50)}")
    return lines


def _short(value: Any, width: int = 60) -> str:
    """A value as JSON; a long string cut after ``width`` characters, marked with "…"."""
    if isinstance(value, str) and len(value) > width:
        return json.dumps(value[:width], ensure_ascii=False) + "…"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width + 2 else text[:width] + "…"


def _pair(old: Any, new: Any, width: int = 60) -> tuple[str, str]:
    """Both values as JSON; long strings cut to a window around their first difference."""
    if not (isinstance(old, str) and isinstance(new, str)) or max(len(old), len(new)) <= width:
        return _short(old, width), _short(new, width)
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    begin = max(0, start - 15)

    def window(text: str) -> str:
        piece = json.dumps(text[begin: begin + width], ensure_ascii=False)
        return ("…" if begin else "") + piece + ("…" if begin + width < len(text) else "")

    return window(old), window(new)


# --- running crawls in a scratch home --------------------------------------------------

@dataclass
class Run:
    """What one crawl of one start URL produced."""

    start: str
    outcome: CrawlOutcome
    records: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # recordings only
    bodies: dict[str, bytes] = field(default_factory=dict)
    problem: str | None = None

    @property
    def served(self) -> list[str]:
        return list(self.outcome.stats.get("newsdesk/replay/served_urls") or [])

    @property
    def unrecorded(self) -> list[str]:
        return list(self.outcome.stats.get("newsdesk/replay/unrecorded_urls") or [])


@contextmanager
def scratch_home(home: Home) -> Iterator[Home]:
    """A temporary data home with a copy of the user's sources.toml; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="newsdesk-fixtures-"))
    try:
        if home.sources_file.is_file():
            shutil.copyfile(home.sources_file, root / "sources.toml")
        yield Home(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def crawl_start(home: Home, source: Source, start: str, *, replay: Fixture | WarcRun | None = None,
                record: bool = False, limit: int | None = None, settings: dict[str, str] | None = None) -> Run:
    """Crawl one start URL in a scratch home: live (optionally recording) or replayed from ``replay``.

    :param replay: a fixture folder, or a run's WARC capture (``newsdesk reextract``).
    """
    wanted = {"ADDONS": ADDON, **(settings or {})}
    if limit:
        wanted["NEWSDESK_FOLLOW_LIMIT"] = str(limit)
    if replay is not None:
        frozen = replay.fetched_at(start)
        if frozen is None:
            raise FixtureError(f"{replay.index_path}: start URL {start} has no recorded page",
                               hint=f"record it: newsdesk record {replay.source} --url {start} --update")
        wanted.update(replay.replay_settings(), NEWSDESK_FROZEN_AT=frozen)
    with scratch_home(home) as scratch:
        if record:
            wanted["NEWSDESK_RECORD_DIR"] = str(scratch.root / "recorded")
        outcome = run_crawl(scratch, source, url=start, settings=wanted, timeout=CRAWL_TIMEOUT)
        run = Run(start=start, outcome=outcome)
        run.problem = _problem(outcome, replayed=replay is not None)
        if run.problem:
            run.problem += f"; see {_keep_log(home, outcome)}"
        for path in sorted(scratch.outbox.glob("*.jsonl")):
            with open(path, encoding="utf-8") as lines:
                run.records += [json.loads(line) for line in lines if line.strip()]
        recorded = scratch.root / "recorded" / "responses.jsonl"
        if record and recorded.exists():
            for line in recorded.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                run.responses.append(entry)
                if entry.get("body"):
                    run.bodies[entry["body"]] = (recorded.parent / entry["body"]).read_bytes()
    return run


def _problem(outcome: CrawlOutcome, replayed: bool) -> str | None:
    if not outcome.stats:
        return f"crawl failed (exit {outcome.exit_code})"
    if not replayed and outcome.network_problem:
        return f"could not reach the site ({outcome.network_problem})"
    if outcome.stat("newsdesk/page_failed"):
        return "the start page could not be fetched"
    if outcome.exit_code:
        return f"crawl failed (exit {outcome.exit_code})"
    return None


def _keep_log(home: Home, outcome: CrawlOutcome) -> Path:
    """Copy a failed crawl's log into the user's logs folder (the scratch home is removed)."""
    try:
        home.ensure(home.logs)
        target = home.logs / outcome.log_file.name
        shutil.copyfile(outcome.log_file, target)
        return target
    except (OSError, NewsdeskError):
        return outcome.log_file


def replay_fixture(home: Home, source: Source, fixture: Fixture, live: bool = False,
                   settings: dict[str, str] | None = None, starts: list[str] | None = None,
                   parallel: int = 2) -> list[Run]:
    """Crawl the starts of a fixture (all by default), replayed or live, two at a time; runs in start order."""
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(crawl_start, home, source, start, replay=None if live else fixture,
                               limit=fixture.limit, settings=settings)
                   for start in (fixture.starts if starts is None else starts)]
        return [f.result() for f in futures]


def merged_records(runs: list[Run]) -> list[dict[str, Any]]:
    """Records of several start pages; a key seen twice keeps its first record."""
    by_key: dict[str, dict[str, Any]] = {}
    for run in runs:
        for record in run.records:
            by_key.setdefault(record["key"], record)
    return list(by_key.values())


# --- check -----------------------------------------------------------------------------

@dataclass
class CheckResult:
    """One fixture folder checked: the drift, and anything that kept the check from running."""

    source: str
    directory: Path
    live: bool
    expected: int
    got: int
    drift: Drift
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.drift.clean and not self.problems

    def describe(self) -> list[str]:
        """Lines for a person: a verdict, then problems, the diff and notes."""
        mode = "live" if self.live else "replay"
        head = f"{self.source} ({self.directory}, {mode}): "
        if self.problems:
            head += "FAILED"
        elif self.drift.clean:
            head += f"ok, {self.got} records as expected"
        else:
            head += f"DRIFT: {self.drift.summary()} (of {self.expected} expected)"
        lines = [head] + [f"  ! {p}" for p in self.problems]
        if self.problems and not self.drift.clean:
            lines.append(f"  records not listed while a run failed: {self.drift.summary()}")
        elif not self.problems:
            lines += describe_drift(self.drift)
        return lines + [f"  note: {n}" for n in self.notes]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "directory": str(self.directory), "live": self.live, "ok": self.ok,
                "expected": self.expected, "got": self.got, "problems": self.problems, "notes": self.notes,
                **self.drift.to_dict()}


def check_fixture(home: Home, fixture: Fixture, sources: dict[str, Source], live: bool = False,
                  settings: dict[str, str] | None = None) -> CheckResult:
    """Replay (or re-crawl) one fixture and compare its records with expected.json."""
    expected = load_expected(fixture)
    source = sources.get(fixture.source)
    if source is None:
        return CheckResult(fixture.source, fixture.directory, live, len(expected), 0, Drift(),
                           problems=[f"source {fixture.source!r} is not configured (see `newsdesk sources`)"])
    runs = replay_fixture(home, source, fixture, live=live, settings=settings)
    got = merged_records(runs)
    result = CheckResult(fixture.source, fixture.directory, live, len(expected), len(got), compare(expected, got))
    result.problems = [f"{run.start}: {run.problem}" for run in runs if run.problem]
    if not fixture.expected_path.exists():
        result.problems.append(f"{fixture.expected_path} is missing")
    unrecorded = sorted({url for run in runs for url in run.unrecorded})
    if unrecorded:
        result.notes.append(f"{len(unrecorded)} requests had no recorded page (answered 404), e.g. {unrecorded[0]}")
    if source.spider != fixture.spider and fixture.spider:
        result.notes.append(f"recorded with spider {fixture.spider}, checked with {source.spider}")
    return result


def check(home: Home, root: Path, source_ids: list[str] | None = None, live: bool = False,
          settings: dict[str, str] | None = None) -> list[CheckResult]:
    """Check every fixture folder under ``root`` (or those of ``source_ids``)."""
    fixtures = find_fixtures(root, source_ids or None)
    if not fixtures:
        raise FixtureError(f"no fixture folders (with an index.json) in {root}",
                           hint="record one with `newsdesk record SOURCE --dir DIR`")
    sources = load_sources(home.sources_file)
    return [check_fixture(home, f, sources, live=live, settings=settings) for f in fixtures]


# --- record ----------------------------------------------------------------------------

@dataclass
class RecordResult:
    """What a recording did to a fixture folder."""

    source: str
    directory: Path
    recorded: list[str] = field(default_factory=list)  # start URLs fetched now
    kept: list[str] = field(default_factory=list)  # start URLs already recorded, left alone
    added: list[str] = field(default_factory=list)  # page URLs
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    records: int = 0
    drift: Drift = field(default_factory=Drift)  # old expected → new expected
    warnings: list[str] = field(default_factory=list)

    def describe(self, update: bool) -> list[str]:
        """Lines for a person: what was fetched, which pages and records changed."""
        lines = [f"{self.source}: {self.directory}"]
        for start in self.kept:
            lines.append(f"  kept {start} (already recorded; --update re-records it)")
        if not self.recorded:
            return lines
        lines.append(f"  recorded {', '.join(self.recorded)}")
        lines.append(f"  pages: {len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
                     f"{self.unchanged} unchanged or kept")
        lines += [f"    + {u}" for u in self.added if update]
        lines += [f"    ~ {u}" for u in self.changed]
        lines += [f"    - {u}" for u in self.removed]
        lines.append(f"  records: {self.records} expected; {self.drift.summary().replace('extra', 'added')}"
                     .replace("missing", "removed"))
        if update:
            lines += describe_drift(self.drift, indent="    ")
        lines += [f"  warning: {w}" for w in self.warnings]
        return lines


def record(home: Home, source_id: str, root: Path, url: str | None = None, limit: int | None = None,
           update: bool = False, settings: dict[str, str] | None = None) -> RecordResult:
    """Fetch a source's start pages live and save them, and the records they yield, as fixtures."""
    sources = load_sources(home.sources_file)
    if source_id not in sources:
        raise FixtureError(f"unknown source {source_id!r} (known: {', '.join(sources) or 'none'})")
    source = sources[source_id]
    existing = find_fixtures(root, None) if root.is_dir() else []
    mine = [f for f in existing if f.source == source_id]
    fixture = mine[0] if mine else Fixture(directory=root / source_id, source=source_id, spider=source.spider)
    if limit is not None and fixture.starts and limit != fixture.limit and not update:
        raise FixtureError(f"{fixture.index_path} was recorded with --limit {fixture.limit}",
                           hint="pass --update to re-record with another limit")
    if url:
        starts = [url]
    elif update and fixture.starts:  # refresh what was recorded (a local copy stays a local copy)
        starts = list(fixture.starts)
    else:
        starts = list(source.urls)
    if limit is not None and limit != fixture.limit:
        starts += [s for s in fixture.starts if s not in starts]  # a new limit re-records every start
        fixture.limit = limit
    result = RecordResult(source=source_id, directory=fixture.directory)
    result.recorded = [s for s in starts if update or s not in fixture.starts]
    result.kept = [s for s in starts if s not in result.recorded]
    if not result.recorded:
        return result

    runs = [crawl_start(home, source, s, record=True, limit=fixture.limit, settings=settings)
            for s in result.recorded]
    failed = [r for r in runs if r.problem]
    if failed:
        raise RecordError(f"{source_id}: {failed[0].start}: {failed[0].problem}; nothing was saved")

    responses = [(entry, run.bodies.get(entry["body"], b"") if entry.get("body") else b"")
                 for run in runs for entry in run.responses]
    new_records = _save_recording(home, source, fixture, responses, update, result)

    live = merged_records(runs)
    live_keys = {r["key"] for r in live}
    differs = compare(live, [r for r in new_records if r["key"] in live_keys])
    if not differs.clean:
        result.warnings.append(f"the replay differs from the live crawl ({differs.summary()}): "
                               "pages kept from an earlier recording, or a spider that depends on the clock or on more "
                               "than the pages")
    return result


def record_from_warc(home: Home, source_id: str, root: Path, warc: str, update: bool = False) -> RecordResult:
    """Save the pages a run captured (its WARC file, or its run id), and the records they yield, as fixtures.

    Like :func:`record` without fetching anything: the capture's responses
    become the fixture's pages (content-encoding undone, as ``record`` saves
    them), its start URLs the fixture's starts.
    """
    sources = load_sources(home.sources_file)
    if source_id not in sources:
        raise FixtureError(f"unknown source {source_id!r} (known: {', '.join(sources) or 'none'})")
    source = sources[source_id]
    capture = WarcRun.open(_warc_path(home, warc))
    if capture.source and capture.source != source_id:
        raise FixtureError(f"{capture.path} is a capture of source {capture.source!r}, not {source_id!r}",
                           hint=f"newsdesk record {capture.source} --from-warc {warc}")
    starts = [s for s in capture.starts if capture.fetched_at(s) is not None]
    if not starts:
        raise RecordError(f"{capture.path} holds no start page of its run; nothing was saved")
    existing = find_fixtures(root, None) if root.is_dir() else []
    mine = [f for f in existing if f.source == source_id]
    fixture = mine[0] if mine else Fixture(directory=root / source_id, source=source_id, spider=source.spider)
    result = RecordResult(source=source_id, directory=fixture.directory)
    result.recorded = [s for s in starts if update or s not in fixture.starts]
    result.kept = [s for s in starts if s not in result.recorded]
    if not result.recorded:
        return result
    if not capture.complete:
        result.warnings.append(f"{capture.path} ends inside a record (its crawl was killed): the pages up to its "
                               "last whole record were saved; requests for the others are answered 404")
    _save_recording(home, source, fixture, list(warc_responses(capture)), update, result)
    return result


def _warc_path(home: Home, warc: str) -> Path:
    """A capture file named as a path, or by its run's id (found in the home's captures)."""
    path = Path(warc)
    if path.is_file():
        return path
    found = [p for p in warc_files(home) if run_id_of(p) == warc]
    if found:
        return found[0]
    raise FixtureError(f"no capture file {warc!r}, and no run of that id has one in {warc_root(home)}",
                       hint="pass a .warc.gz file, or a run id as `newsdesk runs` lists them")


def warc_responses(capture: WarcRun) -> Iterator[tuple[dict[str, Any], bytes]]:
    """A capture's responses as ``record`` saves downloads: (the responses.jsonl line, the decoded body)."""
    for number, page in enumerate(capture.pages):
        served = read_capture(capture.path, page.offset)
        if served is None:
            continue
        headers = {name: value for name, value in served.headers}
        # The body is saved decoded when warcio undid its content-encoding (gzip, deflate, br).
        decoded = served.content != served.body
        kept: dict[str, str | list[str]] = {}
        for name in KEPT_HEADERS:
            values = [v for k, v in served.headers if k.lower() == name.lower()]
            if values and not (decoded and name == "Content-Encoding"):
                kept[name] = values[0] if len(values) == 1 else values
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        fetched = datetime.fromisoformat(served.fetched_at).astimezone(timezone.utc)
        entry = {"url": served.url, "method": page.method, "status": served.status, "content_type": content_type,
                 "headers": kept, "fetched_at": fetched.isoformat(timespec="seconds"),
                 "body": f"bodies/{number:05d}" if served.content else None}
        yield entry, served.content


def _save_recording(home: Home, source: Source, fixture: Fixture, responses: list[tuple[dict[str, Any], bytes]],
                    update: bool, result: RecordResult) -> list[dict[str, Any]]:
    """Merge the responses into the fixture, replay it, write expected.json; the records the replay yielded."""
    old_expected = load_expected(fixture) if fixture.index_path.exists() else []
    _merge_pages(fixture, responses, update, result)
    fixture.spider = source.spider
    fixture.starts += [s for s in result.recorded if s not in fixture.starts]
    fixture.save()

    # Add-only keeps the records of the starts already recorded, so only the new ones are replayed.
    replayed = replay_fixture(home, source, fixture, starts=None if update else result.recorded)
    problems = [f"{r.start}: {r.problem}" for r in replayed if r.problem]
    if problems:
        raise RecordError(f"{source.id}: pages saved, but replaying them failed: {problems[0]}")
    new_records = merged_records(replayed)
    if update:
        _remove_unused(fixture, replayed, result)
        expected = new_records
    else:
        known = {r["key"] for r in old_expected}
        expected = old_expected + [stable(r) for r in new_records if r["key"] not in known]
    save_expected(fixture, expected)
    result.records = len(expected)
    result.drift = compare(old_expected, expected)
    return new_records


def _merge_pages(fixture: Fixture, responses: list[tuple[dict[str, Any], bytes]], update: bool,
                 result: RecordResult) -> None:
    """Add the downloaded responses to the fixture: new URLs always, known ones only with ``update``."""
    latest: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}
    for entry, body in responses:
        if entry["status"] == 404 and entry["url"].endswith("/robots.txt"):
            continue  # no robots.txt: replay answers 404 for it anyway
        latest[(entry["method"], entry["url"])] = (entry, body)
    taken = {p.file for p in fixture.pages if p.file}
    for (method, url), (entry, body) in latest.items():
        old = fixture.find(url, method)
        if old is not None and old.url != url:
            old = None  # only an exact match is the same page
        if old is not None and not update:
            result.unchanged += 1
            continue
        page = Page(url=url, method=method, status=entry["status"], fetched_at=entry["fetched_at"],
                    content_type=entry.get("content_type"), headers=entry.get("headers") or {})
        if body:
            name = old.file if old is not None and old.file and _ours(old.file) else None
            page.file = name or page_file(url, page.content_type, taken)
            taken.add(page.file)
        if old is None:
            fixture.pages.append(page)
            result.added.append(url)
        else:
            same = (old.status, old.content_type, old.headers) == (page.status, page.content_type, page.headers) \
                and fixture.body(old) == body
            if _ours(old.file) and old.file != page.file:
                (fixture.directory / str(old.file)).unlink(missing_ok=True)
            fixture.pages[fixture.pages.index(old)] = page
            if same:
                result.unchanged += 1
            else:
                result.changed.append(url)
        if page.file:
            path = fixture.directory / page.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)


def _remove_unused(fixture: Fixture, runs: list[Run], result: RecordResult) -> None:
    """With --update: drop pages no start page leads to any more (and their files)."""
    served = {url for run in runs for url in run.served} | set(fixture.starts)
    keep = [p for p in fixture.pages if p.url in served]
    for page in fixture.pages:
        if page not in keep:
            result.removed.append(page.url)
            if _ours(page.file) and not any(k.file == page.file for k in keep):
                (fixture.directory / str(page.file)).unlink(missing_ok=True)
    fixture.pages = keep
    fixture.save()


def _ours(file: str | None) -> bool:
    """A body file ``record`` wrote (under pages/): hand-written files elsewhere are never overwritten or deleted."""
    return bool(file) and str(file).startswith(PAGES + "/")
