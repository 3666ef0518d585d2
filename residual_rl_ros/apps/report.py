"""The training report: success rate against env steps from the trainer's episodes.jsonl, as PNG + text."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_episodes(run_dir: Path) -> list[dict]:
    path = run_dir / 'episodes.jsonl'
    if not path.exists():
        return []
    episodes = []
    for line in path.read_text().splitlines():
        try:
            episodes.append(json.loads(line))
        except json.JSONDecodeError:
            continue        # a line cut short by a kill: everything before it is intact
    return episodes


def success_curve(episodes: list[dict], window: int = 20,
                  evaluation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(env_steps, moving success rate over the last `window` labelled training episodes, or evaluation
    episodes (deterministic residual) with `evaluation`)."""
    labelled = [e for e in episodes
                if e.get('success') is not None and bool(e.get('evaluation', False)) == evaluation]
    if not labelled:
        return np.zeros(0), np.zeros(0)
    success = np.array([float(e['success']) for e in labelled])
    steps = np.array([e['env_steps'] for e in labelled], dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(success)])
    idx = np.arange(1, len(success) + 1)
    start = np.maximum(idx - window, 0)
    return steps, (cumulative[idx] - cumulative[start]) / (idx - start)


def write_report(run_dir: Path, title: str, baseline: float | None = None, window: int = 20,
                 eval_window: int = 10) -> Path:
    """run_dir/report.png: success-rate curves of training episodes (with exploration) and evaluation
    episodes (deterministic), and the base policy's success as a line."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    episodes = read_episodes(run_dir)
    steps, rate = success_curve(episodes, window)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, rate, alpha=0.6, label=f'training episodes (exploring), last {window}')
    eval_steps, eval_rate = success_curve(episodes, eval_window, evaluation=True)
    if len(eval_steps):
        ax.plot(eval_steps, eval_rate, marker='.', label=f'evaluation episodes (deterministic), last {eval_window}')
    if baseline is not None:
        ax.axhline(baseline, color='gray', linestyle='--', label=f'BC base alone ({baseline:.0%})')
    ax.set(xlabel='env steps', ylabel='success rate', ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right')
    fig.tight_layout()
    path = run_dir / 'report.png'
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
