"""Repair the ROS 2 PyPI wheels' CMake exports so interfaces can be generated in this venv.

The wheels hard-code the wheel build container's Python and numpy include directories in
`share/*/cmake/*__rosidl_generator_pyExport.cmake`. This rewrites them to this interpreter's
directories. Idempotent: run it after every install that may change numpy.
"""
from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

_INCLUDE_LINE = re.compile(r'(INTERFACE_INCLUDE_DIRECTORIES\s+")([^"]*python3\.\d+[^"]*)(")')


def fix_exports(prefix: Path) -> int:
    """Rewrite every generator-py export under `prefix`; return the number of files changed."""
    includes = f"{sysconfig.get_paths()['include']};{numpy.get_include()}"
    changed = 0
    for export in sorted(prefix.glob('share/*/cmake/*__rosidl_generator_pyExport.cmake')):
        text = export.read_text()
        fixed = _INCLUDE_LINE.sub(lambda m: m.group(1) + includes + m.group(3), text)
        if fixed != text:
            export.write_text(fixed)
            changed += 1
    return changed


if __name__ == '__main__':
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    print(f'fix_ros_wheels: {fix_exports(prefix)} CMake export(s) rewritten under {prefix}')
