"""pip packaging for the venv path (no ROS install): `pip install --no-build-isolation .`

ROS users build with colcon, which runs CMakeLists.txt directly. Here pip runs the very same CMake
build into a staging prefix and packs what it installs (generated interfaces, their C libraries, the node
executables, launch/ and config/) together with the hand-written Python package, so pip owns, upgrades
and uninstalls every file. Needs the ROS 2 build wheels of requirements/ros.txt in the environment.
"""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

PACKAGE = 'residual_rl_ros'
ROOT = Path(__file__).resolve().parent
BUILD = ROOT / 'build' / 'pip'
STAGE = ROOT / 'build' / 'pip-stage'


def cmake_stage() -> Path:
    """Configure, build and install the CMake project into STAGE; return its site-packages dir.

    Configured for the real prefix (CMake refuses exported include paths inside the source tree, such as
    a .venv there, unless they lie in the install prefix), then installed into STAGE with --prefix.
    """
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix)
    subprocess.run([sys.executable, str(ROOT / 'scripts' / 'fix_ros_wheels.py'), sys.prefix], check=True)
    subprocess.run(['cmake', '-S', str(ROOT), '-B', str(BUILD), f'-DCMAKE_INSTALL_PREFIX={sys.prefix}',
                    f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF',
                    '-DCMAKE_BUILD_TYPE=Release', '-DRESIDUAL_RL_ROS_INSTALL_PYTHON=ON'],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(['cmake', '--build', str(BUILD), '-j2'], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(['cmake', '--install', str(BUILD), '--prefix', str(STAGE)], check=True, env=env, stdout=subprocess.DEVNULL)
    purelib = Path(sysconfig.get_path('purelib', vars={'base': str(STAGE), 'platbase': str(STAGE)}))
    return purelib


def staged_data_files() -> list[tuple[str, list[str]]]:
    """Every non-Python file CMake installed (libraries, executables, share/), keyed by its folder."""
    groups: dict[str, list[str]] = {}
    for folder in ('lib', 'share'):
        for path in sorted((STAGE / folder).rglob('*')):
            if path.is_file() and 'site-packages' not in path.parts and 'include' not in path.parts:
                groups.setdefault(str(path.parent.relative_to(STAGE)), []).append(str(path))
    return sorted(groups.items())


def interface_packages(purelib: Path) -> dict[str, str]:
    """package_dir entries mapping the generated residual_rl_ros.msg/.srv to the staged copies."""
    return {f'{PACKAGE}.{kind}': str(purelib / PACKAGE / kind) for kind in ('msg', 'srv')}


class BuildPyWithTypesupport(build_py):
    """build_py that also copies the generated Python typesupport extensions into the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PACKAGE
        for extension in sorted((PURELIB / PACKAGE).glob('*.so')):
            self.copy_file(str(extension), str(target / extension.name))


PURELIB = cmake_stage()
setup(
    name=PACKAGE,
    version='0.1.0',
    description='Residual off-policy RL for fine-tuning behavior-cloning policies on ROS 2 robots',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']) + [f'{PACKAGE}.msg', f'{PACKAGE}.srv'],
    package_dir=interface_packages(PURELIB),
    package_data={PACKAGE: ['web/*', 'assets/**/*']},
    cmdclass={'build_py': BuildPyWithTypesupport},
    entry_points={'console_scripts': [f'{PACKAGE}_launch = {PACKAGE}.bringup.runner:main']},
    data_files=staged_data_files(),
    include_package_data=False,
    zip_safe=False,
)
