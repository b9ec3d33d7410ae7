"""Alerts that reach people: Apprise channels on loopback, digests, cooldown, folding, retries, secrets."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from newsdesk.cli.main import cli
from newsdesk.ops.config import load_config
from newsdesk.ops.health import deliver
from newsdesk.core.home import Home
from newsdesk.ops.runs import AlertRecord
from tests.records import record, write_outbox

T0 = datetime(2024, 10, 25, 9, 30, tzinfo=timezone.utc)
WIRE_BODY = ("Kyiv said on Friday that the first units of North Korean troops had reached the Kursk region, "
             "where Russian forces are fighting to push back a Ukrainian incursion, officials said.")
KURSK = record("https://www.jpost.com/bn/21", "Ukraine says North Korea troops reached Kursk", "2024-10-25T09:00:00+00:00",
               body=WIRE_BODY, agency="Reuters")
KURSK_YNET = record("https://www.ynetnews.com/a/21", "Ukraine says North Korea troops reached Kursk",
                    "2024-10-25T09:05:00+00:00", source="ynet", body=WIRE_BODY, agency="Reuters")
KURSK_TOI = record("https://www.timesofisrael.com/l/21", "Ukraine says North Korea troops reached Kursk",
                   "2024-10-25T09:20:00+00:00", source="toi", body=WIRE_BODY, agency="Reuters")
WEATHER = record("https://www.jpost.com/bn/22", "Heavy rain expected in the north", "2024-10-25T10:00:00+00:00")


def korea(n: int) -> dict[str, Any]:
    """A different Korea story each time."""
    return record(f"https://www.jpost.com/bn/k{n}", f"Korea story number {n}", f"2024-10-25T0{n % 10}:00:00+00:00")


def run(home: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


_runs = iter(range(100000))


def ingest(home: Path, records: list[dict[str, Any]]) -> click.testing.Result:
    """Write an outbox file and run `newsdesk ingest`, as the scheduler and a user do."""
    if records:
        write_outbox(home, f"20241025T100000Z-a-{next(_runs):06d}", records)
    result = run(home, "ingest")
    assert result.exit_code == 0, result.output
    return result


def configure(home: Path, **alerts: Any) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[alerts]", 'timezone = "Asia/Jerusalem"', *(f"{k} = {json.dumps(v)}" for k, v in alerts.items())]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


class Receiver:
    """An HTTP endpoint on loopback for Apprise's json://; fails the next ``fail`` posts with a 500."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.refused = 0
        self.fail = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.fail > 0:
                    receiver.fail -= 1
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.got.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_port}/hook"

    def titles(self) -> list[str]:
        return [m["title"] for m in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_match_reaches_a_json_channel_once_readable(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url])
    run(home, "watch", "add", "korea-troops", "north korea troops")
    result = ingest(home, [KURSK, WEATHER])
    assert "alerts: 1 sent" in result.stdout
    ingest(home, [KURSK])  # seen again: nothing new
    assert len(receiver.got) == 1
    message = receiver.got[0]
    assert message["title"] == "[korea-troops] Reuters: Ukraine says North Korea troops reached Kursk"
    lines = message["message"].splitlines()
    assert lines[0] == "Ukraine says North Korea troops reached Kursk"
    assert lines[1] == "jpost-breaking · Reuters · 2024-10-25 12:00 IDT"  # local time, in [alerts] timezone
    assert lines[2] == KURSK["url"]
    shown = run(home, "watch", "deliveries").stdout
    assert "sent" in shown and "json://127.0.0.1" in shown and "Reuters: Ukraine says" in shown


def _smtp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_email_through_a_real_smtp_server_and_the_password_is_never_shown(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mails: list[bytes] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mails.append(envelope.content)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"Sup3rSecretPw")

    port = _smtp_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        home = tmp_path / "home"
        url = f"mailto://newsbot:Sup3rSecretPw@127.0.0.1:{port}?mode=insecure&from=newsbot@example.org&to=me@example.org"
        home.mkdir()
        run(home, "watch", "add", "kursk", "kursk", "--agency", "Reuters")
        caplog.set_level(logging.DEBUG)
        added = run(home, "watch", "add", "kursk", "kursk", "--replace", "--notify", url)
        result = ingest(home, [KURSK])
    finally:
        controller.stop()
    assert logins == [("newsbot", "Sup3rSecretPw")] and len(mails) == 1
    mail = message_from_bytes(mails[0], policy=policy.default)
    assert mail["Subject"] == "[kursk] Reuters: Ukraine says North Korea troops reached Kursk"
    assert mail["To"] == "me@example.org"
    assert KURSK["url"] in mail.get_body(("plain", "html")).get_content()
    outputs = [added.output, result.output, run(home, "watch", "list").output, run(home, "watch", "list", "--json").output,
               run(home, "watch", "deliveries").output, run(home, "watch", "deliveries", "--json").output, caplog.text,
               (home / "state" / "alerts.sqlite").read_bytes().decode("latin-1")]
    assert "newsbot:****@127.0.0.1" in added.output
    for text in outputs:
        assert "Sup3rSecretPw" not in text


def test_a_bad_notify_url_is_one_line_and_not_echoed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.DEBUG)
    result = run(home, "watch", "add", "k", "korea", "--notify", "nosuchservice://me:hunter2xyz@host/x")
    assert result.exit_code == 1 and "not a notification URL" in result.stderr
    assert "Unparseable URL" in caplog.text  # Apprise's own complaint, with the URL masked
    for text in (result.output, caplog.text):
        assert "hunter2xyz" not in text and "Traceback" not in text
    assert json.loads(run(home, "watch", "list", "--json").stdout) == []


def test_secrets_in_urls_are_masked_in_logs_while_sending(tmp_path: Path, receiver: Receiver,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    configure(home, urls=[f"json://hookuser:T0kenSecret77@127.0.0.1:{receiver.server.server_port}/hook"])
    run(home, "watch", "add", "kursk", "kursk")
    caplog.set_level(logging.DEBUG)
    out = ingest(home, [KURSK])
    assert len(receiver.got) == 1
    for text in (caplog.text, out.output, run(home, "watch", "deliveries", "--json").output):
        assert "T0kenSecret77" not in text
    assert "Loaded JSON URL: json://hookuser:****@127.0.0.1" in caplog.text


def test_a_token_in_a_webhook_path_is_scrubbed_from_urllib3s_log(tmp_path: Path, receiver: Receiver,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    configure(home, urls=[f"mmost://127.0.0.1:{receiver.server.server_port}/abcdefSECRETTOKEN"])  # Mattermost
    run(home, "watch", "add", "kursk", "kursk")
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request's path at DEBUG
    out = ingest(home, [KURSK])
    assert len(receiver.got) == 1 and "Kursk" in json.dumps(receiver.got[0])
    assert '"POST /hooks/**** HTTP/1.1" 200' in caplog.text
    for text in (caplog.text, out.output, run(home, "watch", "deliveries").output):
        assert "abcdefSECRETTOKEN" not in text


def test_a_bot_token_is_never_echoed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.DEBUG)
    added = run(home, "watch", "add", "k", "korea", "--notify", "tgram://123456789:AAHdQwErTyBotToken/987654")
    listed = run(home, "watch", "list", "--json")
    assert added.exit_code == 0 and "alerts also to tgram://" in added.stdout
    assert json.loads(listed.stdout)[0]["notify"][0].startswith("tgram://")
    for text in (added.output, listed.output, caplog.text):
        assert "AAHdQwErTyBotToken" not in text


def test_a_channel_that_fails_three_times_then_answers_gets_each_message_once(
        tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url], retry=60.0)
    run(home, "watch", "add", "korea", "korea")
    receiver.fail = 3
    with time_machine.travel(T0, tick=False) as clock:
        failed = ingest(home, [korea(1)])  # try 1 fails
        assert "1 deliveries failed" in failed.stderr
        ingest(home, [korea(2)])  # korea 2 is new; the channel is backing off: neither is tried
        assert receiver.refused == 1
        pending = run(home, "watch", "deliveries", "--status", "pending", "--tz", "UTC").stdout
        assert pending.count("pending") == 2 and "try 2 after 2024-10-25 09:31" in pending
        clock.shift(timedelta(seconds=61))
        ingest(home, [])  # try 2 (korea 1) fails; korea 2 waits with it
        clock.shift(timedelta(seconds=61))
        ingest(home, [])  # not yet: the second wait is 120 s
        assert receiver.refused == 2
        clock.shift(timedelta(seconds=60))
        ingest(home, [])  # try 3 fails
        clock.shift(timedelta(seconds=240))
        ingest(home, [])  # the channel answers: both go
        ingest(home, [])
        clock.shift(timedelta(hours=7))
        ingest(home, [])
    assert receiver.refused == 3
    assert sorted(receiver.titles()) == ["[korea] jpost-breaking: Korea story number 1",
                                         "[korea] jpost-breaking: Korea story number 2"]
    sent = json.loads(run(home, "watch", "deliveries", "--json").stdout)
    assert [d["status"] for d in sent] == ["sent", "sent"] and sorted(d["attempts"] for d in sent) == [1, 4]  # korea 2 waited for the channel


def test_a_delivery_is_given_up_after_max_attempts(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url], retry=1.0, max_attempts=2)
    run(home, "watch", "add", "korea", "korea")
    receiver.fail = 10
    with time_machine.travel(T0, tick=False) as clock:
        ingest(home, [korea(1)])
        clock.shift(timedelta(seconds=2))
        ingest(home, [])
        clock.shift(timedelta(hours=1))
        ingest(home, [])
    assert receiver.refused == 2 and receiver.got == []
    failed = run(home, "watch", "deliveries", "--status", "failed").stdout
    assert "given up after 2 tries" in failed and "Korea story number 1" in failed


def test_a_channel_removed_from_the_config_is_not_tried_again(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url], retry=1.0)
    run(home, "watch", "add", "korea", "korea")
    receiver.fail = 1
    with time_machine.travel(T0, tick=False) as clock:
        ingest(home, [korea(1)])
        configure(home, urls=[])
        clock.shift(timedelta(seconds=2))
        ingest(home, [])
    assert receiver.refused == 1 and receiver.got == []
    failed = run(home, "watch", "deliveries", "--status", "failed").stdout
    assert "the channel is no longer configured" in failed


def test_the_delivery_log_keeps_history_keep_days(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url])
    (home / "config.toml").write_text((home / "config.toml").read_text() + "[history]\nkeep_days = 30.0\n")
    run(home, "watch", "add", "korea", "korea")
    with time_machine.travel(T0, tick=False) as clock:
        ingest(home, [korea(1)])
        clock.shift(timedelta(days=29))
        ingest(home, [korea(2)])
        assert len(json.loads(run(home, "watch", "deliveries", "--json").stdout)) == 2
        clock.shift(timedelta(days=2))
        ingest(home, [])
    assert [d["title"] for d in json.loads(run(home, "watch", "deliveries", "--json").stdout)] == [
        "[korea] jpost-breaking: Korea story number 2"]


def test_many_matches_in_a_window_become_one_digest(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url], digest_after=2, window=3600.0)
    run(home, "watch", "add", "korea", "korea")
    with time_machine.travel(T0, tick=False) as clock:
        ingest(home, [korea(1), korea(2), korea(3)])
        assert receiver.titles() == ["[korea] 3 new matches"]
        digest = receiver.got[0]["message"].splitlines()
        assert digest[0] == "2024-10-25 04:00 IDT  jpost-breaking: Korea story number 1"
        assert digest[1] == "    https://www.jpost.com/bn/k1" and len(digest) == 6
        clock.shift(timedelta(minutes=10))
        ingest(home, [korea(4)])  # over the limit within the window: held
        assert len(receiver.got) == 1
        clock.shift(timedelta(minutes=51))
        ingest(home, [])  # the window has passed
    assert receiver.titles()[1:] == ["[korea] jpost-breaking: Korea story number 4"]


def test_cooldown_of_one_saved_search(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url])
    run(home, "watch", "add", "korea", "korea", "--cooldown", "600")
    run(home, "watch", "add", "rain", "rain")
    with time_machine.travel(T0, tick=False) as clock:
        ingest(home, [korea(1)])
        clock.shift(timedelta(minutes=1))
        ingest(home, [korea(2), WEATHER])  # korea waits; rain has no cooldown
        assert receiver.titles() == ["[korea] jpost-breaking: Korea story number 1",
                                     "[rain] jpost-breaking: Heavy rain expected in the north"]
        clock.shift(timedelta(minutes=8))
        ingest(home, [korea(3)])
        assert len(receiver.got) == 2
        clock.shift(timedelta(minutes=2))
        ingest(home, [])
    assert receiver.titles()[2:] == ["[korea] jpost-breaking: Korea story number 2",
                                     "[korea] jpost-breaking: Korea story number 3"]


def test_wire_copies_fold_into_one_line_and_later_copies_are_not_sent(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    configure(home, urls=[receiver.url])
    run(home, "watch", "add", "kursk", "kursk")
    ingest(home, [KURSK, KURSK_YNET])
    assert receiver.titles() == ["[kursk] Reuters: Ukraine says North Korea troops reached Kursk — also in ynet"]
    assert f"ynet: {KURSK_YNET['url']}" in receiver.got[0]["message"]
    ingest(home, [KURSK_TOI])  # a later copy of the same wire story
    assert len(receiver.got) == 1
    assert len(json.loads(run(home, "watch", "show", "kursk", "--json").stdout)) == 3  # still recorded


def test_fold_names_two_sources_then_counts_the_rest() -> None:
    from newsdesk.ops.alerts import fold

    copies = [{**KURSK, "key": f"k{i}", "source": s, "dupgroup": "g", "published": f"2024-10-25T1{i}:00:00+00:00"}
              for i, s in enumerate(["JPost", "ynet", "toi", "i24", "ynet"])]
    (story,) = fold(copies)
    assert story.line() == "Reuters: Ukraine says North Korea troops reached Kursk — also in ynet, toi (+1)"


def test_health_alerts_and_recovery_use_the_same_channels(tmp_path: Path, receiver: Receiver) -> None:
    home = Home(tmp_path / "home")
    configure(home.root, urls=[receiver.url])
    config = load_config(home.root / "config.toml")
    with time_machine.travel(T0, tick=False):
        alert = AlertRecord(at=T0, source="jpost-breaking", kind="failed_runs",
                            message="jpost-breaking: 3 failed runs in a row", run_id="r1", details={"streak": 3})
        deliver(home, config, [alert])
        deliver(home, config, [AlertRecord(at=T0 + timedelta(minutes=20), source="jpost-breaking", kind="recovered",
                                           message="jpost-breaking: recovered", run_id="r2")])
    assert receiver.titles() == ["newsdesk: jpost-breaking: 3 failed runs in a row", "newsdesk: jpost-breaking: recovered"]
    assert receiver.got[0]["message"].splitlines() == ["jpost-breaking: 3 failed runs in a row",
                                                       "2024-10-25 12:30 IDT", "streak: 3"]
    assert receiver.got[1]["message"].splitlines()[1] == "2024-10-25 12:50 IDT"


def test_alert_command_keeps_getting_json_and_failures_are_logged(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    home = Home(tmp_path / "home")
    home.root.mkdir()
    out = tmp_path / "got.json"
    command = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write(sys.stdin.read())", str(out)]
    (home.root / "config.toml").write_text(f"[health]\nalert_command = {json.dumps(command)}\n")
    alert = AlertRecord(at=T0, source="s", kind="zero_items", message="s: no items")
    deliver(home, load_config(home.root / "config.toml"), [alert])
    got = json.loads(out.read_text())
    assert got["kind"] == "zero_items" and got["source"] == "s" and got["home"] == str(home.root)
    deliver(home, load_config(home.root / "config.toml"), [alert])  # the same alert again: not sent twice
    assert len(out.read_text().splitlines()) == 1
    for name, command, error in (("a", [sys.executable, "-c", "raise SystemExit('nope')"], "exited 1: nope"),
                                 ("b", ["/no/such/alerter"], "program not found")):
        other = Home(tmp_path / name)
        other.root.mkdir()
        (other.root / "config.toml").write_text(f"[health]\nalert_command = {json.dumps(command)}\n")
        deliver(other, load_config(other.root / "config.toml"), [alert])
        assert error in caplog.text


def test_alerts_config_mistakes_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    configure(home, urls="json://x")
    result = run(home, "ingest")
    assert result.exit_code == 0 and "Traceback" not in result.output
    from newsdesk.ops.config import ConfigError

    with pytest.raises(ConfigError, match=r"\[alerts\] urls must be a list of strings"):
        load_config(home / "config.toml")


def test_the_scheduler_sends_after_its_ingest(tmp_path: Path, receiver: Receiver) -> None:
    from newsdesk.ops.scheduling import Runner

    home = tmp_path / "home"
    configure(home, urls=[receiver.url])
    run(home, "watch", "add", "kursk", "kursk")
    write_outbox(home, "20241025T100000Z-a-schedu", [KURSK])
    Runner(Home(home), load_config(home / "config.toml")).ingest()
    assert receiver.titles() == ["[kursk] Reuters: Ukraine says North Korea troops reached Kursk"]
