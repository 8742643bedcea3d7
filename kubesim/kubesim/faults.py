"""Fault injection: latency, error responses, connection resets, cut watches, outages.

Reliability tests switch these on through `Simulator.faults` (Python) or
`POST /kubesim/faults` (HTTP, behind the same bearer token). Faults apply to
Kubernetes API paths only, never to the control endpoints.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultState:
    latency: float = 0.0                                   # seconds added to each request
    error_rates: dict[int, float] = field(default_factory=dict)  # {500: 0.1, 429: 0.05, 504: ..}
    reset_rate: float = 0.0                                # share of connections reset
    unavailable_until: float = 0.0                         # monotonic deadline of an outage
    watch_cut_generation: int = 0                          # bumping it cuts open watches


class Faults:
    """Thread-safe fault switches consulted once per request."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self.state = FaultState()
        self._rng = random.Random(seed)

    def set(self, *, latency: float | None = None, error_rates: dict[int, float] | None = None,
            reset_rate: float | None = None) -> None:
        """Change the given switches; unspecified ones keep their values."""
        with self._lock:
            if latency is not None:
                self.state.latency = max(0.0, float(latency))
            if error_rates is not None:
                for code, rate in error_rates.items():
                    if int(code) not in (429, 500, 502, 503, 504):
                        raise ValueError(f"unsupported fault status code {code}")
                    if not 0.0 <= float(rate) <= 1.0:
                        raise ValueError(f"error rate for {code} must be within [0, 1]")
                self.state.error_rates = {int(k): float(v) for k, v in error_rates.items()}
            if reset_rate is not None:
                if not 0.0 <= float(reset_rate) <= 1.0:
                    raise ValueError("reset_rate must be within [0, 1]")
                self.state.reset_rate = float(reset_rate)

    def unavailable(self, seconds: float) -> None:
        """Reset every connection for the next `seconds` seconds."""
        with self._lock:
            self.state.unavailable_until = time.monotonic() + float(seconds)

    def cut_watches(self) -> None:
        """Abruptly end every watch stream open right now."""
        with self._lock:
            self.state.watch_cut_generation += 1

    def clear(self) -> None:
        with self._lock:
            gen = self.state.watch_cut_generation
            self.state = FaultState(watch_cut_generation=gen)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            d = asdict(self.state)
        left = d.pop("unavailable_until") - time.monotonic()
        d["unavailable_for"] = max(0.0, left)
        d["error_rates"] = {str(k): v for k, v in d["error_rates"].items()}
        return d

    def decide(self) -> tuple[float, str | None, int | None]:
        """(latency, action, code) for one request: action is None, "reset" or "error"."""
        s = self.state
        if s.unavailable_until and time.monotonic() < s.unavailable_until:
            return s.latency, "reset", None
        if s.reset_rate and self._rng.random() < s.reset_rate:
            return s.latency, "reset", None
        for code, rate in s.error_rates.items():
            if rate and self._rng.random() < rate:
                return s.latency, "error", code
        return s.latency, None, None

    def apply_json(self, body: dict[str, Any]) -> None:
        """Apply a control-endpoint body: {latency, errorRates, resetRate, unavailableFor,
        cutWatches, clear}."""
        if body.get("clear"):
            self.clear()
        self.set(latency=body.get("latency"), error_rates=body.get("errorRates"),
                 reset_rate=body.get("resetRate"))
        if body.get("unavailableFor"):
            self.unavailable(float(body["unavailableFor"]))
        if body.get("cutWatches"):
            self.cut_watches()
