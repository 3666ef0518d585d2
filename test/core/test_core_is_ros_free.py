"""Guard: importing the algorithm core (and the simulator package) pulls in no ROS module."""
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import residual_rl_ros

ROOT = Path(residual_rl_ros.__file__).resolve().parent
FORBIDDEN_PREFIXES = ('rclpy', 'rosbags', 'rosidl', 'rcl_interfaces', 'builtin_interfaces',
                      'residual_rl_ros.ros', 'residual_rl_ros.nodes', 'residual_rl_ros.msg',
                      'residual_rl_ros.srv')

_PROBE = r'''
import importlib, json, pkgutil, sys
names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules)
print(json.dumps(loaded))
'''


def _modules(package: str) -> list[str]:
    path = ROOT / package.split('.', 1)[1].replace('.', '/')
    if not path.is_dir():
        return []
    return [package] + [f'{package}.{m.name}' for m in pkgutil.walk_packages([str(path)])
                        if not m.name.endswith('__main__')]


@pytest.mark.parametrize('package', ['residual_rl_ros.core', 'residual_rl_ros.sim'])
def test_package_imports_no_ros(package: str) -> None:
    modules = _modules(package)
    if not modules:
        pytest.skip(f'{package} does not exist yet')
    result = subprocess.run([sys.executable, '-c', _PROBE, *modules], capture_output=True, text=True,
                            cwd=ROOT.parent, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    leaks = [m for m in loaded if m.startswith(FORBIDDEN_PREFIXES) or m.endswith('_msgs')
             or '_msgs.' in m]
    assert not leaks, f'{package} imports ROS modules: {leaks[:10]}'
