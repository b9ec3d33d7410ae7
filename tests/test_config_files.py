"""Every key of sources.toml and config.toml is checked when the file is read: one line naming file, source, key."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from newsdesk.cli.main import cli
from newsdesk.ops.config import ConfigError, load_config
from newsdesk.ops.schedules import plan_for
from scraper.sources import SourceConfigError, load_sources


def _status(home: Path) -> Any:
    return CliRunner().invoke(cli, ["status", "--home", str(home)], catch_exceptions=False)


@pytest.mark.parametrize(("lines", "named"), [
    ('timezone = "/etc/passwd"', "'timezone' '/etc/passwd' is not an IANA zone name"),
    ('timezone = "../../../../etc/passwd"', "'timezone' '../../../../etc/passwd' is not an IANA zone name"),
    ("urls = 5", "'urls' must be a list of http(s) URLs"),
    ('urls = ["ftp://x.test/"]', "'urls' must be a list of http(s) URLs"),
    ('schedule = "every 99999999999d"', "schedule 'every 99999999999d': longer than 366 days"),
    ('schedule = "0 0 * * 1/0"', "schedule '0 0 * * 1/0': bad step '0' in day-of-week field"),
    ('schedule = "*/0 * * * *"', "schedule '*/0 * * * *'"),
    ('spider = "nosuch"', "unknown spider 'nosuch' (known: feed, jpost_breaking, list, sitemap)"),
    ("language = 5", "'language' must be a str"),
    ("options = { nosuch = 1 }", "unknown option 'nosuch' for spider 'jpost_breaking'"),
    ("options = { follow = \"yes\" }", "option 'follow' must be a bool"),
])
def test_a_bad_source_key_is_one_line_naming_file_line_source_and_key(tmp_path: Path, lines: str,
                                                                     named: str) -> None:
    (tmp_path / "sources.toml").write_text(f"[sources.jpost-breaking]\n{lines}\n")
    result = _status(tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {tmp_path / 'sources.toml'}, line 2: [sources.jpost-breaking]"), first
    assert named in first


@pytest.mark.parametrize(("lines", "named"), [
    ('[schedule]\ntimezone = "/etc/passwd"', "[schedule] timezone '/etc/passwd' is not an IANA zone name"),
    ("[schedule]\njitter = inf", "[schedule] jitter must be a finite number, not inf"),
    ("[schedule]\njitter = nan", "[schedule] jitter must be a finite number, not nan"),
    ("[history]\nkeep_days = 1e300", "[history] keep_days must be at most 36500, not 1e+300"),
    ("[health]\nwindow = 99999999999", "[health] window must be at most 1000000"),
    ("[health]\ncoverage_ratio = 2.0", "[health] coverage_ratio must be at most 1"),
    ("[health]\nunreadable_dates = 1.5", "[health] unreadable_dates must be at most 1"),
])
def test_a_bad_config_key_is_one_line_naming_file_line_and_key(tmp_path: Path, lines: str, named: str) -> None:
    (tmp_path / "config.toml").write_text(f"{lines}\n")
    result = _status(tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: {tmp_path / 'config.toml'}, line 2: {named}"), result.stderr


def _valid(text: str) -> str:
    """``text``, if it is TOML (the strategies below make some strings TOML cannot hold)."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)
    return text


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml(v)}" for k, v in value.items()) + "}"


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
SCALARS = st.booleans() | st.integers(-10**12, 10**12) | st.floats() | TEXT \
    | st.sampled_from(["UTC", "Asia/Tokyo", "/etc/passwd", "every 99999999999d", "0 0 * * 1/0", "*/5 * * * *",
                       "every 10m", "https://x.test/feed", "feed", "sitemap", "list", "article"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["follow", "item", "since", "x"]), inner, max_size=2),
                      max_leaves=4)
SOURCE_KEYS = ["spider", "name", "urls", "timezone", "schedule", "enabled", "language", "dayfirst", "options"]


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from(SOURCE_KEYS), VALUES, min_size=1, max_size=3))
def test_any_value_of_any_source_key_is_read_or_refused_never_a_crash(tmp_path_factory: pytest.TempPathFactory,
                                                                    values: dict[str, Any]) -> None:
    path = tmp_path_factory.mktemp("src") / "sources.toml"
    path.write_text(_valid("[sources.jpost-breaking]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())),
                    encoding="utf-8")
    try:
        sources = load_sources(path)
    except SourceConfigError as exc:
        assert str(exc).startswith(f"{path}, line ") and "\n" not in str(exc)
        return
    plan = plan_for(sources["jpost-breaking"])  # what status and the scheduler do next
    assert plan.interval.total_seconds() > 0


CONFIG_KEYS = [("schedule", k) for k in ("timezone", "jitter", "max_parallel", "stop_timeout", "crawl_timeout")] \
    + [("history", "keep_days"), ("history", "max_log_mb"), ("health", "window"), ("health", "coverage_ratio")]


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(CONFIG_KEYS), value=VALUES)
def test_any_value_of_a_config_key_is_read_or_refused_never_a_crash(tmp_path_factory: pytest.TempPathFactory,
                                                                   key: tuple[str, str], value: Any) -> None:
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(_valid(f"[{key[0]}]\n{key[1]} = {_toml(value)}\n"), encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}, line 2: [{key[0]}] {key[1]}")
        return
    (config.jitter, config.stop_timeout, config.crawl_timeout, config.keep_days, config.max_log_bytes,
     config.max_parallel)
