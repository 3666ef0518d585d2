"""Import demonstrations from bags recorded by other tools (JointState + command topic) into a demos file.

    python -m residual_rl_ros.apps.import_demos --bags teleop_bag/ --mapping mapping.yaml --out runs/x/demos.npz

The mapping YAML is described in residual_rl_ros/bags/demo_import.py; the output is what the trainer,
replay_train and the BC pipeline read (core/demos.py).
"""
from __future__ import annotations

import argparse
import sys

from residual_rl_ros.bags.demo_import import DemoMapping, import_episodes
from residual_rl_ros.bags.reader import BagReadError
from residual_rl_ros.core.demos import save_episodes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--bags', nargs='+', required=True, help='bag folders or .mcap/.db3 files')
    parser.add_argument('--mapping', required=True, help='YAML naming the topics and joints')
    parser.add_argument('--out', required=True, help='demos .npz to write')
    args = parser.parse_args(argv)
    try:
        episodes = import_episodes(args.bags, DemoMapping.from_yaml(args.mapping))
    except (ValueError, BagReadError) as exc:
        print(f'import_demos: {exc}', file=sys.stderr)
        return 2
    if not episodes:
        print('import_demos: no episode found (check topics, joints and episodes.min_steps)', file=sys.stderr)
        return 1
    save_episodes(args.out, episodes)
    steps = sum(len(ep.actions) for ep in episodes)
    print(f'import_demos: {len(episodes)} episodes, {steps} steps -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
