"""Train a residual offline from recorded bags, with the live trainer's assembler, rules and checkpoints.

    python -m residual_rl_ros.apps.replay_train --bags runs/latest/bags/* --run-dir runs/offline \\
        --demos runs/latest/demos.npz --base runs/latest/bc.onnx [--params-file config/humanoid_train.yaml]

Observations, action records and episode events are fed in bag time order to the same TransitionAssembler
the trainer node uses; each stored transition owes the recipe's updates, paid at once (as a trainer that
keeps up would). The run folder has the trainer node's layout (checkpoint/, actor_latest.safetensors,
episodes.jsonl): an existing checkpoint there is resumed (transitions it holds are skipped, so this also
rebuilds a crashed run's buffer from its bags), and the trainer node can continue from what this writes.
Trainer settings come from the `trainer` section of --params-file, then the command line.

`--critic-updates N` replaces the pay-as-you-go rule: N critic updates in all (counted from the run's
start, so a resumed run makes only the rest), spread evenly over the transitions stored after the
warm-up; this retrains on a live run's bags with as many updates as its trainer made (bench/bag_vs_live.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from residual_rl_ros.bags.decode import ACTION_RECORD, EPISODE_EVENT, OBSERVATION
from residual_rl_ros.bags.reader import BagReadError, count_messages, read_messages
from residual_rl_ros.bags.replay import TRANSITION_TYPES, IngestStats, feed_trainer, sessions, transitions
from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.training.config import PRESETS
from residual_rl_ros.core.demos import load_episodes
from residual_rl_ros.core.live_trainer import LiveTrainer
from residual_rl_ros.core.node_params import TrainerParams
from residual_rl_ros.core.transitions import TransitionAssembler


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--bags', nargs='+', required=True, help='bag folders, folders of bags or .mcap/.db3 files')
    parser.add_argument('--run-dir', required=True, help='run folder (trainer node layout); resumed if checkpointed')
    parser.add_argument('--demos', help='demonstrations .npz (default <run-dir>/demos.npz)')
    parser.add_argument('--base', help='base policy: .onnx/.pt or module:factory (default <run-dir>/bc.onnx)')
    parser.add_argument('--params-file', help="YAML keyed by node name; its 'trainer' section sets the defaults")
    parser.add_argument('--recipe-preset', choices=PRESETS)
    parser.add_argument('--recipe-file', help='YAML of ResidualRecipe overrides')
    parser.add_argument('--camera-names', nargs='*')
    parser.add_argument('--max-episode-steps', type=int)
    parser.add_argument('--warmup-env-steps', type=int)
    parser.add_argument('--checkpoint-every', type=int, help='env steps between checkpoints')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--ingest-only', action='store_true', help='store the transitions, make no update')
    parser.add_argument('--critic-updates', type=int,
                        help='critic updates in all, spread evenly over the post-warm-up transitions')
    return parser.parse_args(argv)


def trainer_params(args: argparse.Namespace) -> TrainerParams:
    values = to_dict(TrainerParams())
    if args.params_file:
        document = yaml.safe_load(Path(args.params_file).read_text()) or {}
        values.update(document.get('trainer', {}).get('ros__parameters', {}))
    overrides = {'recipe_preset': args.recipe_preset, 'recipe_file': args.recipe_file, 'seed': args.seed,
                 'camera_names': args.camera_names, 'max_episode_steps': args.max_episode_steps,
                 'warmup_env_steps': args.warmup_env_steps, 'checkpoint_every_env_steps': args.checkpoint_every}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values['run_dir'] = args.run_dir
    return from_dict(TrainerParams, values)


def _progress(core: LiveTrainer, total: int | None, started: float):
    def show(stats: IngestStats, end: str = '') -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        done = f'{100 * stats.messages / total:5.1f}% ' if total else ''
        updates = int(core.learner.counters['critic_updates'])
        sys.stderr.write(f'\r[replay_train] {done}{stats.messages} msgs | {stats.transitions} transitions '
                         f'({stats.added} new) | {stats.transitions / elapsed:,.0f} tr/s | {updates} critic updates '
                         f'| {stats.episodes} episodes{end}')
        sys.stderr.flush()
    return show


class _Schedule:
    """Owes updates so that `critic_updates` are made in all, evenly over the post-warm-up transitions."""

    def __init__(self, core: LiveTrainer, bags: list[str], critic_updates: int, relabel_window_s: float) -> None:
        if critic_updates < 0:
            raise ValueError(f'--critic-updates {critic_updates}: expected >= 0')
        self.core, self.start = core, core.env_steps
        self.per_step = core.learner.recipe.learner.critic_updates_per_env_step
        self.made_before = int(core.learner.counters['critic_updates'])
        self.target = max(0, critic_updates - self.made_before) // self.per_step      # in env steps' worth
        new = _new_transitions(core, bags, relabel_window_s)
        self.spread = max(1, core.env_steps + new - max(core.warmup_env_steps, core.env_steps))

    def owe(self, final: bool = False) -> None:
        """Set the trainer's debt to what the schedule owes by now (everything left when `final`), replacing
        what `LiveTrainer.add` counted."""
        after_warmup = self.core.env_steps - max(self.core.warmup_env_steps, self.start)
        due = self.target if final else min(self.target, self.target * max(0, after_warmup) // self.spread)
        made = (int(self.core.learner.counters['critic_updates']) - self.made_before) // self.per_step
        self.core.owed_env_steps = max(0, due - made)


def _new_transitions(core: LiveTrainer, bags: list[str], relabel_window_s: float) -> int:
    """Transitions in `bags` that `core` does not hold yet: one assembling pass per recording session, as
    `feed_trainer` makes, without storing."""
    new: set[tuple[int, int, int]] = set()
    for files in sessions(bags):
        assembler = TransitionAssembler(lambda a: a, relabel_window_s=relabel_window_s)
        for batch in transitions(read_messages(files, TRANSITION_TYPES), assembler):
            new.update(t.source for t in batch if t.source not in core.stored_keys)
            assembler.ended.clear()
    return len(new)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from residual_rl_ros.nodes.trainer import load_recipe   # the trainer node's recipe rule (preset + file)
    try:
        p = trainer_params(args)
        run_dir = Path(p.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        demos = load_episodes(args.demos or run_dir / 'demos.npz')
        base = load_base_policy(args.base or str(run_dir / 'bc.onnx'))
        core = LiveTrainer.create(run_dir, demos, base, load_recipe(p), p.camera_names, p.max_episode_steps,
                                  p.warmup_env_steps)
    except (ValueError, OSError) as exc:
        print(f'replay_train: {exc}', file=sys.stderr)
        return 2
    start = f'resumed at {core.env_steps} env steps' if core.env_steps else 'fresh run'
    print(f'[replay_train] {start}, {len(core.stored_keys)} transitions stored already; run_dir {run_dir}', flush=True)
    total = count_messages(args.bags, (OBSERVATION, ACTION_RECORD, EPISODE_EVENT))
    started = time.monotonic()
    last_checkpoint = core.env_steps
    update_seconds = 0.0
    schedule = (_Schedule(core, args.bags, args.critic_updates, p.relabel_window_s)
                if args.critic_updates is not None else None)

    def pay() -> None:
        nonlocal update_seconds
        t0 = time.monotonic()
        while core.owed_env_steps and core.sampler_ready() and not core.paused:
            core.train_for(10.0)
        update_seconds += time.monotonic() - t0

    def after_add() -> None:
        nonlocal last_checkpoint
        if schedule is not None:
            schedule.owe()
        if not args.ingest_only and core.owed_env_steps:
            pay()
        if core.env_steps - last_checkpoint >= p.checkpoint_every_env_steps:
            core.checkpoint()
            last_checkpoint = core.env_steps

    show = _progress(core, total, started)
    code = 0
    try:
        stats = feed_trainer(core, args.bags, after_add=after_add, progress=show,
                             relabel_window_s=p.relabel_window_s)
    except BagReadError as exc:
        stats = None
        print(f'\nreplay_train: {exc}\nreplay_train: checkpointing what was stored before it', file=sys.stderr)
        code = 1
    if schedule is not None and not args.ingest_only:
        schedule.owe(final=True)
        pay()
    folder = core.checkpoint()
    if stats is not None:
        show(stats, end='\n')
        wall = time.monotonic() - started
        ingest = max(wall - update_seconds, 1e-9)
        print(f'[replay_train] {stats.transitions} transitions rebuilt from {stats.messages} messages, '
              f'{stats.added} stored; ingestion {stats.transitions / ingest:,.0f} transitions/s '
              f'({stats.messages / ingest:,.0f} msgs/s); {int(core.learner.counters["critic_updates"])} critic '
              f'updates in {update_seconds:.1f} s; wall {wall:.1f} s', flush=True)
    print(f'[replay_train] checkpoint at {core.env_steps} env steps: {folder}', flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
