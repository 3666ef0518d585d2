"""Control-rate timing statistics (achieved rate, tick jitter, missed ticks, input-to-output latency) and
the process settings of a control loop."""
from __future__ import annotations

import gc
import sys

import numpy as np


def tune_control_process(switch_interval_s: float = 2e-4) -> None:
    """Call once a control process has built everything: freeze what exists out of the garbage collector
    (a full collection over the ~200k objects of torch, ROS and the policy took 0.1-1 s), and shorten the
    GIL switch interval so a helper thread (the weights loader) delays a tick by at most about that."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(switch_interval_s)


class TickStats:
    """Collects tick times and latencies over a window; `summary()` reports and clears it."""

    def __init__(self, expected_rate_hz: float) -> None:
        self.period_s = 1.0 / expected_rate_hz
        self._ticks: list[float] = []
        self._latencies: list[float] = []
        self.total_ticks = 0
        self.total_misses = 0

    def tick(self, now_s: float, latency_s: float) -> None:
        """One control output at `now_s`, `latency_s` after its input observation was stamped."""
        if self._ticks and now_s - self._ticks[-1] > 1.5 * self.period_s:
            missed = int(round((now_s - self._ticks[-1]) / self.period_s)) - 1
            self.total_misses += max(missed, 0)
        self._ticks.append(now_s)
        self._latencies.append(latency_s)
        self.total_ticks += 1

    def restart(self) -> None:
        """Forget the last tick time (a pause such as an episode reset is not a missed tick)."""
        self._ticks = []

    def summary(self) -> dict[str, float]:
        """rate_hz, jitter p50/p99/max (|period - expected|, ms), latency p50/p99/max (ms), misses."""
        ticks, lat = np.asarray(self._ticks), np.asarray(self._latencies) * 1e3
        out = {'ticks': float(len(ticks)), 'misses_total': float(self.total_misses)}
        if len(ticks) >= 2:
            periods = np.diff(ticks)
            jitter = np.abs(periods - self.period_s) * 1e3
            out.update(rate_hz=float(1.0 / periods.mean()), jitter_p50_ms=float(np.percentile(jitter, 50)),
                       jitter_p99_ms=float(np.percentile(jitter, 99)), jitter_max_ms=float(jitter.max()))
        if len(lat):
            out.update(latency_p50_ms=float(np.percentile(lat, 50)), latency_p99_ms=float(np.percentile(lat, 99)),
                       latency_max_ms=float(lat.max()))
        self._ticks, self._latencies = self._ticks[-1:], []
        return out
