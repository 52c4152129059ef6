"""Figures drawn on the server as inline SVG (a weekly trend, the district map) and numbers written the Russian way.

No chart library, no scripts, no map tiles: the page is complete as the server sends it, also offline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

NBSP = "\u00a0"


def number(value: float | None, digits: int = 0) -> str:
    """12 345 and 3,5: a no-break space between thousands, a decimal comma; a dash for no value."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", NBSP).replace(".", ",")


def percent(share: float | None) -> str:
    """A share 0..1 as «87 %» (a no-break space before the sign, as Russian typography wants)."""
    return "—" if share is None else f"{number(share * 100)}{NBSP}%"


def hours(value: float | None) -> str:
    """Hours with one decimal: «3,5 ч»; days and hours past two days: «4 дн. 6 ч»."""
    if value is None:
        return "—"
    if value >= 48:
        days, rest = divmod(round(value), 24)
        return f"{days}{NBSP}дн.{NBSP}{rest}{NBSP}ч" if rest else f"{days}{NBSP}дн."
    return f"{number(value, 1)}{NBSP}ч"


def plural(count: int, one: str, few: str, many: str) -> str:
    """The Russian form for a count: 1 инцидент, 3 инцидента, 5 инцидентов."""
    tail = count % 100
    if 11 <= tail <= 14:
        return many
    return one if tail % 10 == 1 else few if 2 <= tail % 10 <= 4 else many


def incidents(count: int) -> str:
    return f"{number(count)}{NBSP}{plural(count, 'инцидент', 'инцидента', 'инцидентов')}"


def _a(href: str | None, inner: str, title: str) -> str:
    """An SVG element with its tooltip, a link when there is somewhere to go."""
    body = f"<title>{escape(title)}</title>{inner}"
    return f'<a href="{escape(href)}">{body}</a>' if href else f"<g>{body}</g>"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    first: date
    last: date
    received: int
    late: int
    link: str | None


def trend_svg(points: Sequence[TrendPoint], *, width: int = 760, height: int = 260) -> Markup:
    """Received and late incidents per week, two lines over Monday–Sunday weeks."""
    left, right, top, bottom = 44, 28, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p.received for p in points] + [1])
    step = _nice_step(peak)
    ceiling = step * math.ceil(peak / step)
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(value: int) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts = [
        f'<svg class="chart trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Поступление и просрочка по неделям" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(0, ceiling + 1, step):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{number(tick)}</text>'
        )
    label_every = max(1, math.ceil(n / 8))
    for i, point in enumerate(points):
        if (n - 1 - i) % label_every == 0:
            parts.append(
                f'<text class="axis" x="{x(i):.1f}" y="{height - 12}" text-anchor="middle">'
                f"{point.first.strftime('%d.%m')}</text>"
            )
    for series, attr in (("received", "received"), ("late", "late")):
        coords = " ".join(f"{x(i):.1f},{y(getattr(p, attr)):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="line {series}" points="{coords}"/>')
    for i, point in enumerate(points):
        span = f"{point.first.strftime('%d.%m')}–{point.last.strftime('%d.%m.%Y')}"
        tip = f"Неделя {span}: поступило {incidents(point.received)}, с опозданием {number(point.late)}"
        dots = (
            f'<circle class="dot received" cx="{x(i):.1f}" cy="{y(point.received):.1f}" r="4"/>'
            f'<circle class="dot late" cx="{x(i):.1f}" cy="{y(point.late):.1f}" r="3"/>'
        )
        parts.append(_a(point.link, dots, tip))
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_step(peak: int) -> int:
    """A round grid step that gives four or five lines up to the peak."""
    raw = max(1.0, peak / 4)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


@dataclass(frozen=True, slots=True)
class MapPoint:
    name: str
    kind: str
    lat: float
    lon: float
    count: int
    link: str | None


# From a pale sand to a deep red: more incidents, darker and larger.
_LOW, _HIGH, _NONE = (253, 226, 196), (180, 35, 24), "#d0d5dd"


def _shade(share: float) -> str:
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(_LOW, _HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


Box = tuple[float, float, float, float]


def _place_label(
    cx: float, cy: float, radius: float, text_w: float, placed: list[Box], size: tuple[int, int]
) -> tuple[float, float, str]:
    """Below, above, right or left of a circle: the first spot whose box stays inside and covers no placed label."""
    text_h = 13.0
    spots = [
        (cx, cy + radius + 13, "middle"),
        (cx, cy - radius - 5, "middle"),
        (cx + radius + 4, cy + 4, "start"),
        (cx - radius - 4, cy + 4, "end"),
    ]

    def box(x: float, y: float, anchor: str) -> Box:
        left = x - text_w / 2 if anchor == "middle" else x if anchor == "start" else x - text_w
        return left, y - text_h + 3, left + text_w, y + 3

    def free(a: Box) -> bool:
        inside = a[0] >= 0 and a[2] <= size[0] and a[1] >= 0 and a[3] <= size[1]
        return inside and all(a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1] for b in placed)

    spot = next((spot for spot in spots if free(box(*spot))), spots[0])
    placed.append(box(*spot))
    return spot


def map_svg(points: Sequence[MapPoint], *, width: int = 640, height: int = 440) -> Markup:
    """The district's settlements where they are (an equirectangular projection of the gazetteer's coordinates),
    each a circle shaded and sized by its number of incidents, with its name and count."""
    pad = 48
    if not points:
        return Markup("")
    mid_lat = math.radians((min(p.lat for p in points) + max(p.lat for p in points)) / 2)
    xs = [p.lon * math.cos(mid_lat) for p in points]
    ys = [-p.lat for p in points]
    span_x, span_y = max(max(xs) - min(xs), 1e-6), max(max(ys) - min(ys), 1e-6)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = pad + ((width - 2 * pad) - span_x * scale) / 2 - min(xs) * scale
    off_y = pad + ((height - 2 * pad) - span_y * scale) / 2 - min(ys) * scale
    peak = max([p.count for p in points] + [1])
    parts = [
        f'<svg class="chart map" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Карта района: инциденты по населённым пунктам" xmlns="http://www.w3.org/2000/svg">',
        f'<rect class="ground" x="0" y="0" width="{width}" height="{height}" rx="8"/>',
    ]
    # Bigger circles first, so that small ones on top stay clickable; labels after all circles, placed where they
    # cover no other label (below, above, right, left of the circle: the first free place).
    placed: list[Box] = []
    labels: list[str] = []
    for point, px, py in sorted(zip(points, xs, ys, strict=True), key=lambda t: -t[0].count):
        cx, cy = px * scale + off_x, py * scale + off_y
        share = point.count / peak
        radius = 5 + 17 * math.sqrt(share)
        fill = _shade(share) if point.count else _NONE
        inner = f'<circle class="place" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{fill}"/>'
        if point.count and radius >= 11:
            count = number(point.count)
            inner += f'<text class="place-count" x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle">{count}</text>'
        parts.append(_a(point.link, inner, f"{point.name} ({point.kind}): {incidents(point.count)}"))
        label = escape(point.name) + (f" · {number(point.count)}" if point.count and radius < 11 else "")
        width_of_text = 6.6 * len(point.name) + (24 if point.count else 0)
        x, y, anchor = _place_label(cx, cy, radius, width_of_text, placed, (width, height))
        labels.append(f'<text class="place-label" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{label}</text>')
    parts.extend(labels)
    parts.append("</svg>")
    return Markup("".join(parts))
