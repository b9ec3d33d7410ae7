"""The timeline chart's geometry: bars, axis ticks and labels for an inline SVG.

Pure arithmetic over ``index.timeline.Timeline`` buckets; the template draws
it (so every label goes through Jinja's escaping).  A person should read it at
a glance: a y axis with round numbers, at most ``MAX_X_LABELS`` dates under
the bars, the span and the zone in the caption, each bar's exact count on hover.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 26, 44
MAX_BAR_WIDTH = 48  # a few buckets are drawn as bars, not as walls
MAX_COUNT_LABELS = 48  # above this many bars, counts are left to the tooltips
MAX_X_LABELS = 8
MAX_Y_TICKS = 5


@dataclass
class Bar:
    """One bucket drawn: its rectangle, and its tooltip."""

    x: float
    y: float
    width: float
    height: float
    count: int
    title: str
    label: str = ""  # the count printed above the bar ("" when bars are too many or the count is 0)


@dataclass
class Chart:
    """Everything the SVG template needs, in SVG user units."""

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: float = WIDTH - LEFT - RIGHT
    plot_height: float = HEIGHT - TOP - BOTTOM
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label)
    x_labels: list[tuple[float, str, str]] = field(default_factory=list)  # (x, first line, second line)
    y_title: str = ""
    caption: str = ""

    @property
    def baseline(self) -> float:
        return self.top + self.plot_height

    @property
    def right(self) -> float:
        return self.left + self.plot_width


def nice_step(top: int, ticks: int = MAX_Y_TICKS) -> int:
    """A round tick step (1, 2, 5 × 10ⁿ) that puts at most ``ticks`` ticks above zero up to ``top``."""
    if top <= ticks:
        return 1
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        if step >= raw:
            return int(step)
    return int(10 * magnitude)


def _tooltip(start: datetime, by: str, count: int) -> str:
    when = {"hour": f"{start:%a %d %b %Y, %H:00}", "week": f"week of {start:%d %b %Y}"}.get(by, f"{start:%a %d %b %Y}")
    return f"{when}: {count} match{'es' if count != 1 else ''}"


def _x_label(start: datetime, by: str, previous: datetime | None) -> tuple[str, str]:
    """Two lines under a bar: the time (or day), and the date (or year) where it changed."""
    if by == "hour":
        new_day = previous is None or previous.date() != start.date()
        return f"{start:%H:00}", f"{start:%d %b}" if new_day else ""
    new_year = previous is None or previous.year != start.year
    return f"{start:%d %b}", f"{start:%Y}" if new_year else ""


def build_chart(buckets: list[tuple[datetime, int]], by: str, zone_name: str) -> Chart:
    """Lay out ``buckets`` (aware starts in the user's zone, counts) as a bar chart."""
    chart = Chart()
    if not buckets:
        return chart
    top = max(count for _, count in buckets) or 1
    step = nice_step(top)
    axis_top = step * math.ceil(top / step)
    slot = chart.plot_width / len(buckets)
    gap = min(slot * 0.2, 4.0) if slot > 3 else 0.0
    width = min(max(slot - gap, 0.5), MAX_BAR_WIDTH)
    for i, (start, count) in enumerate(buckets):
        height = chart.plot_height * count / axis_top
        chart.bars.append(Bar(x=round(chart.left + (i + 0.5) * slot - width / 2, 2),
                              y=round(chart.baseline - height, 2), width=round(width, 2), height=round(height, 2),
                              count=count, title=_tooltip(start, by, count),
                              label=str(count) if count and len(buckets) <= MAX_COUNT_LABELS else ""))
    for value in range(0, axis_top + 1, step):
        chart.y_ticks.append((round(chart.baseline - chart.plot_height * value / axis_top, 2), str(value)))
    every = max(1, math.ceil(len(buckets) / MAX_X_LABELS))
    previous: datetime | None = None
    for i in range(0, len(buckets), every):
        start = buckets[i][0]
        first, second = _x_label(start, by, previous)
        chart.x_labels.append((round(chart.left + (i + 0.5) * slot, 2), first, second))
        previous = start
    chart.y_title = f"matches per {by}"
    first_day, last_day = buckets[0][0], buckets[-1][0]
    span = f"{first_day:%d %b %Y}" if first_day.date() == last_day.date() else \
        f"{first_day:%d %b %Y} – {last_day:%d %b %Y}"
    total = sum(count for _, count in buckets)
    chart.caption = f"{total} dated match{'es' if total != 1 else ''}, counted per {by}: {span} ({zone_name})"
    return chart
