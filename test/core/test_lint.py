"""The code base is lint-clean: ruff (the venv's, settings in ruff.toml) reports nothing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.core

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ('residual_rl_ros', 'bench', 'test', 'launch', 'scripts')


def test_ruff_reports_nothing() -> None:
    ruff = Path(sys.executable).with_name('ruff')
    if not ruff.is_file():
        pytest.skip(f'no ruff next to {sys.executable}: install requirements/python.txt into this venv')
    folders = [name for name in FOLDERS if any((ROOT / name).rglob('*.py'))]
    assert 'residual_rl_ros' in folders and 'test' in folders, folders
    done = subprocess.run([str(ruff), 'check', '--no-cache', '--output-format', 'concise', *folders],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f'ruff findings (exit {done.returncode}):\n{done.stdout}{done.stderr}'
