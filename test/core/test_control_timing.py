"""Control-loop process settings and tick statistics."""
import gc
import sys

from residual_rl_ros.core.timing import TickStats, tune_control_process


def test_tune_control_process_freezes_the_heap_and_shortens_the_gil_interval() -> None:
    interval = sys.getswitchinterval()
    try:
        tune_control_process(1e-3)
        assert gc.get_freeze_count() > 10_000          # pytest, numpy, ...: out of every later collection
        assert sys.getswitchinterval() == 1e-3
    finally:
        gc.unfreeze()
        sys.setswitchinterval(interval)


def test_tick_stats_count_missed_ticks_and_report_latency() -> None:
    stats = TickStats(50.0)
    for t in (0.00, 0.02, 0.04, 0.10, 0.12):           # 0.06 and 0.08 were missed
        stats.tick(t, 0.003)
    summary = stats.summary()
    assert summary['misses_total'] == 2 and summary['ticks'] == 5
    assert abs(summary['latency_p50_ms'] - 3.0) < 1e-9
