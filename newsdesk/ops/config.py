"""newsdesk's own settings: shipped defaults in ``newsdesk/ops/config.toml``, overridden key by key.

A user's ``<home>/config.toml`` sets only the keys it wants to change.  Every
key must exist in the shipped file and have the same type, a number must be
finite, not negative and at most its limit, and a zone must be a zone name; a
mistake is a :class:`ConfigError` naming the file, the line and the key.
"""

from __future__ import annotations

import logging
import math
import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.timeparse import UnknownZone, zone_by_name

logger = logging.getLogger(__name__)

SHIPPED = "config.toml"
#: Keys whose value may be a string or a list of strings.
_COMMAND_KEYS = {("health", "alert_command")}
#: Keys whose value is a list of strings.
_STRING_LISTS = {("alerts", "urls")}
#: The largest number a key may hold: past it a value is a typo, and date arithmetic overflows.
MAX_NUMBER = 1_000_000
_LIMITS = {("history", "keep_days"): 36_500, ("health", "coverage_ratio"): 1, ("health", "unreadable_dates"): 1}


class ConfigError(NewsdeskError):
    """The config file cannot be read or sets something invalid."""


def _line_of(text: str, table: str, key: str) -> int | None:
    """The line number where ``key`` is set inside ``[table]`` (or as ``table.key``)."""
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).strip()
            if key == "" and (current == table or current.startswith(table + ".")):
                return number
            continue
        if current == table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
        if current == "" and re.match(rf"^{re.escape(table)}\s*\.\s*{re.escape(key)}\s*=", stripped):
            return number
        if current == "" and key == "" and re.match(rf"^{re.escape(table)}\s*=", stripped):
            return number
    return None


def _where(path: Path, text: str, table: str, key: str) -> str:
    line = _line_of(text, table, key)
    return f"{path}, line {line}" if line else str(path)


def _type_name(value: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
            dict: "a table", list: "a list"}.get(type(value), type(value).__name__)


def _check(path: Path, text: str, defaults: dict[str, Any], user: dict[str, Any]) -> None:
    """Every user key exists in the defaults and has the same type."""
    for table, values in user.items():
        if table not in defaults:
            raise ConfigError(f"{_where(path, text, table, '')}: unknown section [{table}] "
                              f"(known: {', '.join(f'[{t}]' for t in defaults)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{_where(path, text, table, '')}: {table!r} must be a table")
        for key, value in values.items():
            where = f"{_where(path, text, table, key)}: [{table}] {key}"
            if key not in defaults[table]:
                known = ", ".join(defaults[table])
                raise ConfigError(f"{where}: unknown key (known in [{table}]: {known})")
            default = defaults[table][key]
            if (table, key) in _COMMAND_KEYS:
                ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
                expected = "a string or a list of strings"
            elif (table, key) in _STRING_LISTS:
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                expected = "a list of strings"
            elif isinstance(default, bool):
                ok, expected = isinstance(value, bool), _type_name(default)
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                expected = _type_name(default)
            elif isinstance(default, int):
                ok, expected = isinstance(value, int) and not isinstance(value, bool), _type_name(default)
            else:
                ok, expected = isinstance(value, type(default)), _type_name(default)
            if not ok:
                raise ConfigError(f"{where} must be {expected}, not {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                limit = _LIMITS.get((table, key), MAX_NUMBER)
                if not math.isfinite(value):
                    raise ConfigError(f"{where} must be a finite number, not {value!r}")
                if value < 0:
                    raise ConfigError(f"{where} must not be negative, not {value!r}")
                if value > limit:
                    raise ConfigError(f"{where} must be at most {limit}, not {value!r}")


def _read(path_label: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path_label}: invalid TOML: {exc}") from None


@dataclass(frozen=True)
class Config:
    """The merged settings, read through typed accessors."""

    data: dict[str, dict[str, Any]]
    origin: str = "(shipped defaults)"

    def get(self, table: str, key: str) -> Any:
        return self.data[table][key]

    @property
    def schedule_timezone(self) -> str:
        return str(self.get("schedule", "timezone"))

    @property
    def jitter(self) -> float:
        return float(self.get("schedule", "jitter"))

    @property
    def catch_up(self) -> bool:
        return bool(self.get("schedule", "catch_up"))

    @property
    def max_parallel(self) -> int:
        return max(1, int(self.get("schedule", "max_parallel")))

    @property
    def stop_timeout(self) -> float:
        return float(self.get("schedule", "stop_timeout"))

    @property
    def kill_timeout(self) -> float:
        return float(self.get("schedule", "kill_timeout"))

    @property
    def crawl_timeout(self) -> float | None:
        value = float(self.get("schedule", "crawl_timeout"))
        return value or None

    @property
    def crawl_settings(self) -> dict[str, str]:
        return {str(k): _setting_text(v) for k, v in self.get("crawl", "settings").items()}

    @property
    def keep_days(self) -> float:
        return float(self.get("history", "keep_days"))

    @property
    def max_log_bytes(self) -> int:
        return int(float(self.get("history", "max_log_mb")) * 1024 * 1024)

    @property
    def capture_keep_days(self) -> float:
        return float(self.get("capture", "keep_days"))

    @property
    def capture_max_bytes(self) -> int:
        return int(float(self.get("capture", "max_gb")) * 1024 ** 3)

    @property
    def alert_command(self) -> list[str]:
        """The alert command as an argument list (a string is split like a shell would)."""
        value = self.get("health", "alert_command")
        if isinstance(value, list):
            return [str(v) for v in value]
        return shlex.split(value) if value.strip() else []


    @property
    def alert_urls(self) -> list[str]:
        """The Apprise URLs every alert goes to (secrets: never print them)."""
        return [str(u) for u in self.get("alerts", "urls") if str(u).strip()]


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def load_config(user_file: Path | None = None) -> Config:
    """The shipped config overridden by ``user_file`` (if it exists)."""
    shipped = _read(f"(shipped) newsdesk/ops/{SHIPPED}",
                    resources.files("newsdesk.ops").joinpath(SHIPPED).read_text(encoding="utf-8"))
    if user_file is None or not user_file.exists():
        return Config(shipped)
    try:
        text = user_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{user_file}: cannot read: {exc}") from None
    user = _read(str(user_file), text)
    _check(user_file, text, shipped, user)
    merged = {table: {**values, **user.get(table, {})} for table, values in shipped.items()}
    if "alert_command" in user.get("health", {}):
        command = merged["health"]["alert_command"]
        if isinstance(command, str):
            try:
                shlex.split(command)
            except ValueError as exc:
                raise ConfigError(f"{_where(user_file, text, 'health', 'alert_command')}: "
                                  f"[health] alert_command: {exc}") from None
    for table in ("schedule", "alerts"):
        zone = merged[table]["timezone"]
        if zone:
            try:
                zone_by_name(zone)
            except UnknownZone:
                raise ConfigError(f"{_where(user_file, text, table, 'timezone')}: [{table}] timezone "
                                  f"{zone!r} is not an IANA zone name", "e.g. Europe/London or UTC") from None
    return Config(merged, origin=str(user_file))
