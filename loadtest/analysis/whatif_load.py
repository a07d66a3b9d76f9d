"""The load a what-if offers: a rate curve (messages a second against seconds since the load started), named
on the command line.

- `burst:RATE:SECONDS` holds RATE msgs/s for SECONDS, then nothing;
- `steps:RATE@SECONDS,RATE@SECONDS,...` holds each rate for its seconds, in turn;
- `ramp:FROM:TO:SECONDS` grows linearly from FROM to TO msgs/s over SECONDS;
- `scale:PEAK[:STAGE_SECONDS]` is Locust's `scale` shape (loadtest/shapes.py, what `make demo` plays), its
  plateau offering PEAK msgs/s (rate in proportion to users, 10 peak users), stages of STAGE_SECONDS (10).

A curve is a list of (seconds, msgs/s) segments, piecewise constant; `ramp` is cut into one-second steps.
"""

from __future__ import annotations

import dataclasses
import math

from loadtest.shapes import scale_stages

MAX_RATE = 1_000_000  # msgs/s: ten times the what-if's intended top
MAX_SECONDS = 24 * 3600
SCALE_PEAK_USERS = 10  # make demo's plateau users (loadtest/local/runs/demo.py)
SCALE_STAGE_SECONDS = 10
USAGE = (
    "burst:RATE:SECONDS, steps:RATE@SECONDS,..., ramp:FROM:TO:SECONDS or scale:PEAK[:STAGE_SECONDS] "
    "(e.g. burst:10000:60)"
)


@dataclasses.dataclass(frozen=True)
class LoadCurve:
    name: str
    segments: tuple[tuple[float, float], ...]  # (seconds, msgs/s), in order

    @property
    def seconds(self) -> float:
        return sum(seconds for seconds, _ in self.segments)

    @property
    def messages(self) -> float:
        return sum(seconds * rate for seconds, rate in self.segments)

    @property
    def peak_rate(self) -> float:
        return max((rate for _, rate in self.segments), default=0.0)

    def rate_at(self, t: float) -> float:
        """Msgs/s offered at `t` seconds since the load started (0 before and after)."""
        if t < 0:
            return 0.0
        end = 0.0
        for seconds, rate in self.segments:
            end += seconds
            if t < end:
                return rate
        return 0.0

    def rates(self, dt: float, steps: int) -> list[float]:
        """The rate of each step of `dt` seconds (taken at the step's middle)."""
        return [self.rate_at((k + 0.5) * dt) for k in range(steps)]


class ProfileError(ValueError):
    """A profile that does not parse; the message names the part that is wrong (USAGE: the forms)."""


def _number(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ProfileError(f"{what} {text!r} must be a number from {low:g} to {high:g}")
    return value


def _rate(text: str) -> float:
    return _number(text, "rate", 0, MAX_RATE)


def _seconds(text: str) -> float:
    return _number(text, "seconds", 1, MAX_SECONDS)


def parse_profile(text: str) -> LoadCurve:
    """A LoadCurve from its command-line form; ProfileError names what is wrong."""
    kind, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "burst" and len(parts) == 2:
        return LoadCurve(text, ((_seconds(parts[1]), _rate(parts[0])),))
    if kind == "steps" and len(parts) == 1:
        segments = []
        for step in parts[0].split(","):
            rate, at, seconds = step.partition("@")
            if not at:
                raise ProfileError(f"step {step!r} must be RATE@SECONDS")
            segments.append((_seconds(seconds), _rate(rate)))
        return LoadCurve(text, tuple(segments))
    if kind == "ramp" and len(parts) == 3:
        start, end, seconds = _rate(parts[0]), _rate(parts[1]), _seconds(parts[2])
        n = math.ceil(seconds)
        step = seconds / n
        return LoadCurve(text, tuple((step, start + (end - start) * (i + 0.5) / n) for i in range(n)))
    if kind == "scale" and len(parts) in (1, 2):
        stage = _seconds(parts[1]) if len(parts) == 2 else SCALE_STAGE_SECONDS
        return scale_curve(_rate(parts[0]), stage, name=text)
    raise ProfileError(f"{text!r} is not a load profile")


def scale_curve(peak_rate: float, stage_seconds: float = SCALE_STAGE_SECONDS, name: str = "") -> LoadCurve:
    """Locust's scale shape as a rate curve: each stage offers peak_rate × its users / the peak users."""
    stages = scale_stages(SCALE_PEAK_USERS, stage_seconds)
    segments = tuple((s.duration_s, peak_rate * s.users / SCALE_PEAK_USERS) for s in stages)
    return LoadCurve(name or f"scale:{peak_rate:g}", segments)
