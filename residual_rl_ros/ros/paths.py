"""Resolve file parameters: absolute, relative to the working directory, or under the package share."""
from __future__ import annotations

from pathlib import Path

PACKAGE = 'residual_rl_ros'


def resolve_config_file(value: str) -> Path:
    """`value` as given when it exists, else share/residual_rl_ros/<value>; ValueError naming it."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    if not path.is_absolute():
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            shared = Path(get_package_share_directory(PACKAGE)) / value
        except (PackageNotFoundError, KeyError, LookupError, OSError):
            shared = None
        if shared is not None and shared.is_file():
            return shared
    raise ValueError(f'file {value!r} not found (looked in the working directory and the package share)')
