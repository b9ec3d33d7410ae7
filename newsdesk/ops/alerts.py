"""Alerts delivered to people: Apprise channels, ``alert_command``, and the delivery log.

Health alerts (``newsdesk.ops.health``) and saved-search matches (``index.watch``)
both end in :func:`notify`: each alert is a :class:`Message`, written once into
``<home>/state/alerts.sqlite`` with one delivery per channel, then sent.  The
channels are the Apprise URLs of ``[alerts] urls``, a saved search's own
``--notify`` URLs, and ``[health] alert_command`` (given the alert as JSON on
stdin, as before).

Nothing lost, nothing twice: a message is named by what it is about (the
alert, or the saved search and the record keys it covers), so composing it
again after a crash adds nothing, and a record is put into one message per
saved search; a delivery is marked sent as soon as its channel accepted it; a
failed one stays pending and is tried again after later ingests, ``retry``
seconds later and twice as long after each failure, ``max_attempts`` times in
all.  The one window left is a crash between a channel accepting a message and
the mark, which sends that message again.  Deliveries are sent under
``<home>/locks/alerts.lock``, so two processes never send the same one.

Saved-search matches become readable messages: a story's headline, source,
agency, local time and link, its wire copies (one near-duplicate group,
``index.neardup``) folded into one line; a later copy of a story already
alerted is not sent again.  More than ``digest_after`` matches of a search
within ``window`` seconds become one digest, sent at most once a window; a
search's ``cooldown`` holds its matches back until that long after its last
message.

No secret reaches the log, the screen or the delivery log: a channel is stored
as a hash of its URL and shown in Apprise's privacy form (passwords and tokens
masked); the URL is looked up in the config and the saved searches when a
delivery is tried, and what Apprise and urllib3 log meanwhile is scrubbed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import unquote

import apprise

from index import watch
from newsdesk.ops.config import Config, load_config
from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from newsdesk.core.locks import FileLock, LockBusy
from newsdesk.core.timeparse import local_time
from newsdesk.ops.runs import AlertRecord
from newsdesk.core.sqlite import connect_wal
from newsdesk.core.timeparse import user_zone

logger = logging.getLogger(__name__)

ALERT_COMMAND_TIMEOUT = 30.0
#: The longest wait between two tries of a failed delivery, however many failures.
MAX_BACKOFF = timedelta(hours=6)
#: Seconds a process waits for another one to finish sending before leaving its deliveries to it.
LOCK_WAIT = 60.0
#: Sources named after a folded story's lead ("also in a, b (+3)").
ALSO_SHOWN = 2
#: Loggers that may write a channel's URL while it is used (urllib3 logs request paths with tokens in them).
_SENDING_LOGGERS = ("apprise", "urllib3.connectionpool")

_SQL = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    ident TEXT NOT NULL UNIQUE,   -- what the message is about: composing it again adds nothing
    kind TEXT NOT NULL,           -- watch, digest, or a health alert's kind
    search TEXT NOT NULL,         -- the saved search it is about ('' for health alerts)
    count INTEGER NOT NULL,       -- matches it covers
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    payload TEXT NOT NULL,        -- JSON for alert_command
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_search ON messages (search, created);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (created);
CREATE TABLE IF NOT EXISTS message_keys (   -- each record goes into one message per saved search
    search TEXT NOT NULL,
    key TEXT NOT NULL,
    grp TEXT,                     -- its near-duplicate group when sent
    message INTEGER NOT NULL,
    PRIMARY KEY (search, key)
);
CREATE INDEX IF NOT EXISTS message_keys_by_group ON message_keys (search, grp);
CREATE TABLE IF NOT EXISTS deliveries (
    message INTEGER NOT NULL,
    channel TEXT NOT NULL,        -- a hash of the URL or command: no secret stored here
    shown TEXT NOT NULL,          -- the channel as it may be printed
    status TEXT NOT NULL,         -- pending, sent, failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    sent_at TEXT,
    PRIMARY KEY (message, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_try);
"""


class AlertError(NewsdeskError):
    """A notification URL that cannot be used."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


# --- channels ----------------------------------------------------------------------------

def _instantiate(url: str) -> Any:
    """Apprise's plugin for ``url`` (None if it is not an Apprise URL), with its log scrubbed."""
    with _scrubbed(_secrets(url, "")):
        return apprise.Apprise.instantiate(url)


def _secrets(url: str, private: str) -> list[str]:
    """The parts of ``url`` its privacy form ``private`` leaves out (all of them if there is none), longest first."""
    rest = url.split("://", 1)[-1]
    parts = {p for p in re.split(r"[/:@?&=#,;+]+", rest) if len(p) >= 3 and p not in private}
    parts |= {unquote(p) for p in parts}
    if not private:
        parts.add(url)
    return sorted(parts, key=len, reverse=True)


def shown_url(url: str) -> str:
    """``url`` as it may be printed: Apprise's privacy form, without its query string."""
    plugin = _instantiate(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme[:20]}://**** (not a notification URL)" if scheme else "**** (not a notification URL)"
    return str(plugin.url(privacy=True)).split("?", 1)[0]


def check_url(url: str) -> str:
    """The shown form of a usable notification URL; AlertError if Apprise does not know it."""
    if _instantiate(url) is None:
        raise AlertError(f"not a notification URL: {shown_url(url)}",
                         "use an Apprise URL such as mailto://…, tgram://…, ntfy://… (docs/alerts.md)")
    return shown_url(url)


def public_search(saved: watch.SavedSearch) -> dict[str, Any]:
    """A saved search as it may be printed or served: its notification URLs in their shown form."""
    return {**asdict(saved), "notify": [shown_url(url) for url in saved.notify]}


@dataclass(frozen=True)
class Channel:
    """Somewhere alerts go: an Apprise URL or the alert command."""

    url: str = ""
    command: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """What the delivery log stores instead of the URL (the alert command is one channel, whatever it runs)."""
        if not self.url:
            return "alert_command"
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:24]

    @property
    def shown(self) -> str:
        return shown_url(self.url) if self.url else f"alert_command {self.command[0]}"

    def send(self, message: Message, home: Home) -> str:
        """Deliver ``message``; '' if the channel took it, else what went wrong (no secret in it)."""
        if self.command:
            return _run_command(list(self.command), message.payload, home)
        private = shown_url(self.url)
        errors: list[str] = []
        with _scrubbed(_secrets(self.url, private)), _collected(errors):
            plugin = apprise.Apprise.instantiate(self.url)
            if plugin is None:
                return "not a notification URL"
            if plugin.notify(body=message.body, title=message.title):
                return ""
        return "; ".join(errors)[:300] or "the service did not accept it"


def _run_command(command: list[str], payload: dict[str, Any], home: Home) -> str:
    """Run the alert command with ``payload`` as JSON on stdin; '' if it exited 0."""
    try:
        result = subprocess.run(command, input=json.dumps(payload, ensure_ascii=False) + "\n", text=True,
                                capture_output=True, timeout=ALERT_COMMAND_TIMEOUT, cwd=home.root, check=False)
    except FileNotFoundError:
        return f"alert_command {command[0]!r}: program not found"
    except subprocess.TimeoutExpired:
        return f"alert_command {command[0]!r}: still running after {ALERT_COMMAND_TIMEOUT:.0f} s; stopped"
    if result.returncode != 0:
        return f"alert_command {command[0]!r} exited {result.returncode}: " + \
            (result.stderr or result.stdout).strip()[:300]
    return ""


class _Scrub(logging.Filter):
    """Masks the given strings in every record of the logger it is on."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, "****")
        record.msg, record.args = text, ()
        return True


@contextmanager
def _scrubbed(secrets: list[str]) -> Iterator[None]:
    scrub = _Scrub(secrets)
    loggers = [logging.getLogger(name) for name in _SENDING_LOGGERS]
    for each in loggers:
        each.addFilter(scrub)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(scrub)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextmanager
def _collected(into: list[str]) -> Iterator[None]:
    """Apprise's warnings while sending, kept as the delivery's error."""
    handler = _Collect(into)
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.addHandler(handler)
    try:
        yield
    finally:
        apprise_logger.removeHandler(handler)


def channels(config: Config, extra: Iterable[str] = ()) -> list[Channel]:
    """Where an alert goes: ``[alerts] urls``, then ``extra`` URLs, then the alert command."""
    found = [Channel(url=u) for u in dict.fromkeys([*config.alert_urls, *extra])]
    if config.alert_command:
        found.append(Channel(command=tuple(config.alert_command)))
    return found


def _known_channels(home: Home, config: Config) -> dict[str, Channel]:
    """Every channel a delivery may name now, by id (URLs removed since are not found)."""
    extra = [u for saved, _, _ in watch.saved_searches(home.state) for u in saved.notify]
    return {c.id: c for c in channels(config, extra)}


# --- messages ----------------------------------------------------------------------------

@dataclass
class Message:
    """One alert: a title and body for people, a JSON payload for the alert command."""

    ident: str
    kind: str
    title: str
    body: str
    payload: dict[str, Any]
    search: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)  # the matches it covers


def _when(iso: str | None, zone: tzinfo) -> str:
    """A time in ``zone`` to the minute, with the zone's abbreviation."""
    shown = local_time(iso, zone).strip()
    try:
        name = datetime.fromisoformat(str(iso)).astimezone(zone).tzname() if iso else None
    except ValueError:
        name = None
    return f"{shown} {name}" if name else shown


def _zone(config: Config) -> tzinfo:
    return user_zone(str(config.get("alerts", "timezone")) or None)


def health_message(home: Home, alert: AlertRecord, zone: tzinfo) -> Message:
    """A health alert (or a recovery) as a message."""
    details = "".join(f"\n{k}: {v}" for k, v in sorted(alert.details.items()) if v not in (None, "", []))
    at = _iso(alert.at)
    return Message(ident=f"health:{alert.source}:{alert.kind}:{alert.run_id or ''}:{at}", kind=alert.kind,
                   title=f"newsdesk: {alert.message}",
                   body=f"{alert.message}\n{_when(at, zone)}{details}",
                   payload={**alert.to_json(), "home": str(home.root)})


@dataclass
class Story:
    """Matches of one near-duplicate group: the earliest copy leads, the others are folded into it."""

    lead: dict[str, Any]
    copies: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return str(self.lead.get("agency") or self.lead.get("source") or "")

    def line(self) -> str:
        """``Reuters: headline — also in jpost, ynet (+2)``."""
        text = f"{self.label}: {self.lead.get('title') or '(no title)'}"
        others = list(dict.fromkeys(str(c.get("source")) for c in self.copies
                                    if c.get("source") and c.get("source") != self.lead.get("source")))
        if others:
            more = len(others) - ALSO_SHOWN
            text += f" — also in {', '.join(others[:ALSO_SHOWN])}" + (f" (+{more})" if more > 0 else "")
        return text


def fold(records: list[dict[str, Any]]) -> list[Story]:
    """Records folded by near-duplicate group, in the order their groups first matched."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record.get("dupgroup") or record["key"]), []).append(record)
    stories = []
    for members in groups.values():
        members = sorted(members, key=lambda r: (r.get("published") is None, r.get("published") or ""))
        stories.append(Story(lead=members[0], copies=members[1:]))
    return stories


def _ident(prefix: str, name: str, records: list[dict[str, Any]]) -> str:
    keys = "\n".join(sorted(r["key"] for r in records))
    return f"{prefix}:{name}:{hashlib.sha256(keys.encode('utf-8')).hexdigest()[:24]}"


def _payload(home: Home, saved: watch.SavedSearch, records: list[dict[str, Any]], title: str,
             body: str) -> dict[str, Any]:
    """What ``alert_command`` gets for saved-search matches."""
    count = len(records)
    return {"at": _iso(_utcnow()), "kind": "watch", "search": saved.name, "query": saved.query, "count": count,
            "message": f"saved search {saved.name}: {count} new match{'es' if count != 1 else ''}",
            "title": title, "body": body, "matches": records, "home": str(home.root)}


def story_message(home: Home, saved: watch.SavedSearch, story: Story, zone: tzinfo) -> Message:
    """One story a saved search matched."""
    lead = story.lead
    records = [lead, *story.copies]
    facts = " · ".join(str(v) for v in (lead.get("source"), lead.get("agency")) if v)
    title = f"[{saved.name}] {story.line()}"
    body = f"{lead.get('title') or '(no title)'}\n{facts} · {_when(lead.get('published'), zone)}"
    body += f"\n{lead['url']}" if lead.get("url") else ""
    body += "".join(f"\n  {c.get('source')}: {c['url']}" for c in story.copies if c.get("url"))
    return Message(ident=_ident("watch", saved.name, records), kind="watch", title=title, body=body,
                   payload=_payload(home, saved, records, title, body), search=saved.name, records=records)


def digest_message(home: Home, saved: watch.SavedSearch, stories: list[Story], zone: tzinfo) -> Message:
    """Many matches of one saved search in one message."""
    records = [r for s in stories for r in (s.lead, *s.copies)]
    count = len(records)
    title = f"[{saved.name}] {count} new matches"
    lines = []
    for story in stories:
        lines.append(f"{_when(story.lead.get('published'), zone)}  {story.line()}")
        if story.lead.get("url"):
            lines.append(f"    {story.lead['url']}")
    return Message(ident=_ident("digest", saved.name, records), kind="digest", title=title, body="\n".join(lines),
                   payload={**_payload(home, saved, records, title, "\n".join(lines)), "digest": True},
                   search=saved.name, records=records)


# --- the delivery log ----------------------------------------------------------------------

@dataclass
class Delivery:
    """One message to one channel, as logged."""

    title: str
    kind: str
    search: str
    channel: str
    status: str
    attempts: int
    created: str
    next_try: str
    error: str
    sent_at: str | None


@dataclass
class Report:
    """What one round of delivery did."""

    queued: int = 0  # new messages
    sent: int = 0  # deliveries a channel took
    failed: int = 0  # deliveries that failed this round (pending again, or given up)


class DeliveryLog:
    """``<home>/state/alerts.sqlite``: messages, the records they covered, and their deliveries."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.path = home.alerts_db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.home.ensure(self.home.state)
        with closing(connect_wal(self.path, timeout=30)) as db:
            db.executescript(_SQL)
            with db:
                yield db

    def add(self, message: Message, to: list[Channel], now: datetime) -> bool:
        """Log a message and a pending delivery to each channel; False if it was logged before."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO messages (ident, kind, search, count, title, body, payload, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (message.ident, message.kind, message.search, len(message.records), message.title, message.body,
                 json.dumps(message.payload, ensure_ascii=False, default=str), _iso(now)))
            if not cursor.rowcount:
                return False
            rowid = cursor.lastrowid
            db.executemany("INSERT OR IGNORE INTO message_keys VALUES (?, ?, ?, ?)",
                           [(message.search, r["key"], r.get("dupgroup"), rowid) for r in message.records])
            for channel in {c.id: c for c in to}.values():  # a channel backing off: the new one waits too
                db.execute("INSERT INTO deliveries (message, channel, shown, status, next_try) VALUES (?, ?, ?, "
                           "'pending', MAX(?, COALESCE((SELECT MAX(next_try) FROM deliveries WHERE channel = ? "
                           "AND status = 'pending'), '')))", (rowid, channel.id, channel.shown, _iso(now), channel.id))
        return True

    def covered(self, search: str, records: list[dict[str, Any]]) -> set[str]:
        """Keys of ``records`` already in a message of ``search``, or copies of a story that was."""
        with self._db() as db:
            done = set()
            for record in records:
                group = record.get("dupgroup")
                row = db.execute("SELECT 1 FROM message_keys WHERE search = ? AND (key = ? OR (? IS NOT NULL AND "
                                 "(grp = ? OR key = ?)))", (search, record["key"], group, group, group)).fetchone()
                if row:
                    done.add(record["key"])
        return done

    def last_message(self, search: str) -> datetime | None:
        with self._db() as db:
            row = db.execute("SELECT MAX(created) FROM messages WHERE search = ?", (search,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def covered_since(self, search: str, since: datetime) -> int:
        """Matches of ``search`` put into messages at or after ``since``."""
        with self._db() as db:
            row = db.execute("SELECT COALESCE(SUM(count), 0) FROM messages WHERE search = ? AND created >= ?",
                             (search, _iso(since))).fetchone()
        return int(row[0])

    def due(self, now: datetime) -> list[tuple[int, str, int, Message]]:
        """Pending deliveries whose time has come: (message id, channel id, attempts, message)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT d.message, d.channel, d.attempts, m.ident, m.kind, m.title, m.body, m.payload, m.search "
                "FROM deliveries d JOIN messages m ON m.id = d.message "
                "WHERE d.status = 'pending' AND d.next_try <= ? ORDER BY d.message, d.channel", (_iso(now),)).fetchall()
        return [(r[0], r[1], r[2], Message(ident=r[3], kind=r[4], title=r[5], body=r[6], payload=json.loads(r[7]),
                                           search=r[8])) for r in rows]

    def sent(self, message: int, channel: str, now: datetime) -> None:
        with self._db() as db:
            db.execute("UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, error = '' "
                       "WHERE message = ? AND channel = ?", (_iso(now), message, channel))

    def failed(self, message: int, channel: str, attempts: int, error: str, retry: timedelta | None) -> None:
        """A failed try: pending until ``retry`` from now (the channel's other pending ones wait as long), or given up."""
        with self._db() as db:
            if retry is None:
                db.execute("UPDATE deliveries SET status = 'failed', attempts = ?, error = ? "
                           "WHERE message = ? AND channel = ?", (attempts, error, message, channel))
                return
            next_try = _iso(_utcnow() + retry)
            db.execute("UPDATE deliveries SET attempts = ?, error = ?, next_try = ? WHERE message = ? AND channel = ?",
                       (attempts, error, next_try, message, channel))
            db.execute("UPDATE deliveries SET next_try = MAX(next_try, ?) WHERE channel = ? AND status = 'pending'",
                       (next_try, channel))

    def prune(self, before: datetime) -> int:
        """Forget messages logged before ``before`` once none of their deliveries is pending; returns messages."""
        if not self.path.exists():
            return 0
        with self._db() as db:
            old = [r[0] for r in db.execute(
                "SELECT id FROM messages WHERE created < ? AND id NOT IN "
                "(SELECT message FROM deliveries WHERE status = 'pending')", (_iso(before),))]
            for table, column in (("deliveries", "message"), ("message_keys", "message"), ("messages", "id")):
                db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in old])
        return len(old)

    def deliveries(self, status: str | None = None, limit: int = 100) -> list[Delivery]:
        """The newest deliveries first (of one status if given)."""
        if not self.path.exists():
            return []
        sql = ("SELECT m.title, m.kind, m.search, d.shown, d.status, d.attempts, m.created, d.next_try, d.error, "
               "d.sent_at FROM deliveries d JOIN messages m ON m.id = d.message")
        args: tuple[Any, ...] = ()
        if status:
            sql += " WHERE d.status = ?"
            args = (status,)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY d.message DESC, d.shown LIMIT ?", (*args, limit)).fetchall()
        return [Delivery(*r) for r in rows]


# --- the seam ------------------------------------------------------------------------------

def _backoff(config: Config, attempts: int) -> timedelta | None:
    """How long after its ``attempts``-th failure a delivery is tried again (None: given up)."""
    if attempts >= max(1, int(config.get("alerts", "max_attempts"))):
        return None
    first = timedelta(seconds=float(config.get("alerts", "retry")))
    return min(first * 2 ** (attempts - 1), MAX_BACKOFF)


def notify(home: Home, config: Config, messages: Iterable[Message] = (), extra: dict[str, list[str]] | None = None
           ) -> Report:
    """Log new messages, then send every delivery that is due (these and earlier failures whose wait is over).

    The one way alerts leave newsdesk.  :param extra: a saved search's own URLs, by search name.
    """
    log = DeliveryLog(home)
    report = Report()
    now = _utcnow()
    for message in messages:
        to = channels(config, (extra or {}).get(message.search, []))
        if log.add(message, to, now):
            report.queued += 1
            logger.info("alert: %s (%d channel%s)", message.title, len(to), "s" if len(to) != 1 else "")
    try:
        with FileLock(home.lock("alerts"), wait=LOCK_WAIT):
            _send_due(home, config, log, report)
    except LockBusy:
        logger.warning("alerts: another process is still sending; the new ones go out after the next ingest")
    return report


def _send_due(home: Home, config: Config, log: DeliveryLog, report: Report) -> None:
    known = _known_channels(home, config)
    down: set[str] = set()
    for message_id, channel_id, attempts, message in log.due(_utcnow()):
        if channel_id in down:
            continue  # failed a moment ago: waits with the one that failed
        channel = known.get(channel_id)
        error = channel.send(message, home) if channel else "the channel is no longer configured"
        if not error:
            log.sent(message_id, channel_id, _utcnow())
            report.sent += 1
            continue
        report.failed += 1
        retry = _backoff(config, attempts + 1) if channel else None
        log.failed(message_id, channel_id, attempts + 1, error, retry)
        shown = channel.shown if channel else channel_id
        logger.warning("alert to %s failed (try %d): %s%s", shown, attempts + 1, error,
                       "; given up" if retry is None else f"; tried again after {retry}")
        down.add(channel_id)


def watch_messages(home: Home, config: Config, now: datetime) -> list[Message]:
    """The messages the saved searches' pending matches make now (matches an earlier message covered are marked).

    Matches held by a cooldown, or bound for a digest less than a window after the search's last
    message, stay pending.
    """
    log = DeliveryLog(home)
    zone = _zone(config)
    digest_after = int(config.get("alerts", "digest_after"))
    window = timedelta(seconds=float(config.get("alerts", "window")))
    messages: list[Message] = []
    for name, (saved, records) in watch.pending_alerts(home.state).items():
        done = log.covered(name, records)
        if done:  # already sent (a crash before the mark), or a later copy of a story already sent
            watch.mark_alerted(home.state, name, done)
            records = [r for r in records if r["key"] not in done]
        if not records:
            continue
        last = log.last_message(name)
        cooldown = timedelta(seconds=saved.cooldown if saved.cooldown is not None
                             else float(config.get("alerts", "cooldown")))
        if last and now - last < cooldown:
            continue
        stories = fold(records)
        if log.covered_since(name, now - window) + len(records) > digest_after:
            if last and now - last < window:
                continue  # one digest a window: these wait until a window after the last message
            messages.append(digest_message(home, saved, stories, zone))
        else:
            messages.extend(story_message(home, saved, story, zone) for story in stories)
    return messages


def after_ingest(home: Home) -> Report:
    """Send the saved searches' new matches (and retry failed deliveries); called after every ingest."""
    try:
        config = load_config(home.config_file)
    except NewsdeskError as exc:
        logger.warning("%s; alerts are kept until it is fixed", exc)
        return Report()
    messages = watch_messages(home, config, _utcnow())
    extra = {saved.name: saved.notify for saved, _, _ in watch.saved_searches(home.state) if saved.notify}
    report = notify(home, config, messages, extra)
    for message in messages:  # logged first: a crash before this mark is caught by ``covered``
        watch.mark_alerted(home.state, message.search, [r["key"] for r in message.records])
    DeliveryLog(home).prune(_utcnow() - timedelta(days=config.keep_days))
    return report


def notify_health(home: Home, config: Config, alerts: list[AlertRecord]) -> Report:
    """Send health alerts (and recoveries) through the same channels and log as saved searches."""
    zone = _zone(config)
    return notify(home, config, [health_message(home, alert, zone) for alert in alerts])
