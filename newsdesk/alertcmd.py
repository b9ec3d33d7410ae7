"""The optional user command that receives alerts (JSON on stdin): mail, chat, desktop notices.

It is read from ``alert_command`` in ``<home>/config.toml``: a string (split
like a shell would, without running a shell) or a list of arguments::

    alert_command = "notify-send-json --app newsdesk"

Saved-search matches (``index.watch``) use it; health alerts (issue 4) are meant
to use the same command, so there is one place a user wires notifications.
SEAM: when the scheduler's config module lands, ``alert_command`` should be
read from there and this module reduced to ``send_alert``.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from newsdesk.errors import NewsdeskError

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.toml"
TIMEOUT = 30.0  # seconds an alert command may take before it is stopped


class AlertConfigError(NewsdeskError):
    """``alert_command`` in config.toml cannot be used."""


def config_path(root: Path) -> Path:
    """The user's config file in a data home."""
    return root / CONFIG_NAME


def alert_command(root: Path) -> list[str] | None:
    """The configured alert command as arguments, or None when none is set."""
    path = config_path(root)
    if not path.exists():
        return None
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AlertConfigError(f"{path}: cannot read it: {exc}", "fix the file or remove it") from None
    value = config.get("alert_command")
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise AlertConfigError(f"{path}: alert_command: {exc}", "check its quotes") from None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise AlertConfigError(f"{path}: alert_command must be a string or a list of strings",
                           'e.g. alert_command = "notify-send newsdesk"')


def send_alert(command: list[str], payload: dict[str, Any]) -> bool:
    """Run ``command`` with ``payload`` as JSON on stdin; True when it exits 0 (failures are logged)."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("alert command %s failed: %s", command[0], exc)
        return False
    if done.returncode != 0:
        logger.warning("alert command %s exited %d: %s", command[0], done.returncode,
                       done.stderr.decode("utf-8", "replace").strip()[:200])
        return False
    return True
