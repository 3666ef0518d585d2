"""Learner speed: ResidualLearner updates against a plain reference of the same update, and the CPU presets.

Part 1 - paper sizes (recipe_preset('paper'): 2x1024 actor and critic, 10 critic heads, min of 2 target
heads, batch 256), state-based and with two 84x84 cameras:

  reference  the same TD3-ensemble update written plainly below: one nn.Sequential per critic head run
             in a Python loop, a target from all heads then the min of 2 random ones, per-camera conv
             encoders in NCHW, torch.optim.AdamW defaults (per-tensor loop), per-parameter Polyak
             updates, float32, default torch threads. It draws its random numbers in the same order as
             the learner, and the bench first checks that both give the same critic loss from the same
             weights and batch (so it times the same update).
  learner    residual_rl_ros.core.learner.ResidualLearner (fused ensemble heads, only the 2 drawn target
             heads evaluated, fused AdamW, foreach Polyak updates, channels-last convs), at --threads.

Part 2 - per env step (the preset's UTD critic updates + its share of actor updates + batch sampling):
paper with images against the CPU presets 'cpu_image' and 'cpu_state'.

    python bench/learner_speed.py [--repeats 3] [--image-repeats 1] [--threads 1] [--layouts state images]

Times are CPU seconds of this process (all threads), measured with baseline and candidate interleaved
repeat by repeat and reported as medians, so a shared machine skews the ratios less than wall time
would; wall times are printed beside them. Rates are per CPU second ("per core").
"""
from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from residual_rl_ros.core.learner import ResidualLearner, compose_action, configure_cpu
from residual_rl_ros.core.networks import PolicySpec, RandomShift, phase_features
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.replay import Batch, ReplayBuffer
from residual_rl_ros.core.training.config import apply_overrides, recipe_preset
from residual_rl_ros.core.types import Observation, Transition

PROPRIO, TASK, ACTION, CHUNK = 10, 18, 4, 4          # Fetch pick-and-place dimensions
CAMERAS = ('front', 'head')
DEFAULT_THREADS = torch.get_num_threads()


# -- the plain reference ------------------------------------------------------------------------------

def plain_mlp(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.LayerNorm(width), nn.ReLU()]
        in_dim = width
    return nn.Sequential(*layers, nn.Linear(in_dim, out_dim))


class PlainEncoder(nn.Module):
    """Per-camera conv stack -> Linear -> LayerNorm -> Tanh, NCHW, concatenated over cameras."""

    def __init__(self, spec: PolicySpec, recipe: ResidualRecipe) -> None:
        super().__init__()
        net = recipe.network
        self.cameras = nn.ModuleDict()
        for name in spec.camera_names:
            convs, in_ch = [], 3
            for i in range(net.encoder_layers):
                convs += [nn.Conv2d(in_ch, net.encoder_channels, 3, stride=2 if i == 0 else 1), nn.ReLU()]
                in_ch = net.encoder_channels
            convs.append(nn.Flatten())
            flat = nn.Sequential(*convs)(torch.zeros(1, 3, *spec.image_hw)).shape[1]
            self.cameras[name] = nn.Sequential(*convs, nn.Linear(flat, net.encoder_feature_dim),
                                               nn.LayerNorm(net.encoder_feature_dim), nn.Tanh())
        self.shift = RandomShift(net.random_shift_pad_px)

    def forward(self, images: dict, generator: torch.Generator) -> torch.Tensor | None:
        out = []
        for name, camera in self.cameras.items():
            pixels = images[name].permute(0, 3, 1, 2).float().contiguous() / 255.0 - 0.5
            out.append(camera(self.shift(pixels, generator)))
        return torch.cat(out, -1) if out else None


class PlainTD3Ensemble:
    """The ResFiT update as a plain TD3-ensemble: separate critics in a loop, default optimizers."""

    def __init__(self, recipe: ResidualRecipe, spec: PolicySpec) -> None:
        net, self.lr = recipe.network, recipe.learner
        self.spec, self.scale, self.heads = spec, net.action_scale, net.num_critic_heads
        self.encoder = PlainEncoder(spec, recipe)
        feat = net.encoder_feature_dim * len(spec.camera_names)
        self.actor = plain_mlp(feat + spec.state_dim + spec.action_dim + 2, net.actor_hidden_sizes, spec.action_dim)
        self.critics = nn.ModuleList(plain_mlp(feat + spec.state_dim + 2 + 2 * spec.action_dim,
                                               net.critic_hidden_sizes, 1) for _ in range(self.heads))
        self.target_encoder, self.target_actor = copy.deepcopy(self.encoder), copy.deepcopy(self.actor)
        self.target_critics = copy.deepcopy(self.critics)
        self.critic_optim = torch.optim.AdamW(list(self.encoder.parameters()) + list(self.critics.parameters()),
                                              lr=self.lr.critic_lr, weight_decay=self.lr.weight_decay)
        self.actor_optim = torch.optim.AdamW(self.actor.parameters(), lr=self.lr.actor_lr,
                                             weight_decay=self.lr.weight_decay)
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.critic_updates = 0

    def load_from(self, learner: ResidualLearner) -> None:
        """Copy the learner's weights (fused heads split into per-head Linear/LayerNorm)."""
        for mine, theirs in ((self.encoder, learner.policy.encoder), (self.target_encoder,
                                                                      learner.target_policy.encoder)):
            for name, camera in mine.cameras.items():
                src = theirs.cameras[name]
                convs = [m for m in src.convs if isinstance(m, nn.Conv2d)]
                for dst, s in zip([m for m in camera if isinstance(m, nn.Conv2d)], convs):
                    dst.load_state_dict(s.state_dict())
                camera[-3].load_state_dict(src.project[0].state_dict())
                camera[-2].load_state_dict(src.project[1].state_dict())
        self.actor.load_state_dict(learner.policy.actor.net.state_dict())
        self.target_actor.load_state_dict(learner.target_policy.actor.net.state_dict())
        for critics, fused in ((self.critics, learner.critic), (self.target_critics, learner.target_critic)):
            for h, critic in enumerate(critics):
                for dst, src in zip(critic, fused.net):
                    if isinstance(dst, (nn.Linear, nn.LayerNorm)):
                        weight = src.weight[h].T if isinstance(dst, nn.Linear) else src.weight[h, 0]
                        dst.weight.data.copy_(weight)
                        dst.bias.data.copy_(src.bias[h].reshape(-1))

    def _tensors(self, batch: Batch, prefix: str = '') -> tuple:
        images = getattr(batch, f'{prefix}images')
        return ({c: torch.from_numpy(images[c]) for c in self.spec.camera_names},
                torch.from_numpy(getattr(batch, f'{prefix}state')).float(),
                torch.from_numpy(getattr(batch, f'{prefix}base_action')).float(),
                phase_features(torch.from_numpy(getattr(batch, f'{prefix}phase')), self.spec.chunk_length,
                               'sincos'))

    @staticmethod
    def _cat(features: torch.Tensor | None, *parts: torch.Tensor) -> torch.Tensor:
        return torch.cat(([features] if features is not None else []) + list(parts), -1)

    def _q(self, critics: nn.ModuleList, features, state, phase, base, action) -> torch.Tensor:
        x = self._cat(features, state, phase, base, action)
        return torch.stack([critic(x).squeeze(-1) for critic in critics])

    def update_critic(self, batch: Batch) -> float:
        images, state, base, phase = self._tensors(batch, 'next_')
        with torch.no_grad():
            features = self.target_encoder(images, self.generator)
            residual = torch.tanh(self.target_actor(self._cat(features, state, base, phase))) * self.scale
            noise = torch.randn(residual.shape, generator=self.generator) * (self.lr.target_noise_std * self.scale)
            clip = self.lr.target_noise_clip * self.scale
            residual = (residual + noise.clamp(-clip, clip)).clamp(-self.scale, self.scale)
            q_all = self._q(self.target_critics, features, state, phase, base, compose_action(base, residual))
            heads = torch.randperm(self.heads, generator=self.generator)[:2]
            target = (torch.from_numpy(batch.reward) + torch.from_numpy(batch.discount)
                      * q_all[heads].min(0).values)
        images, state, base, phase = self._tensors(batch)
        features = self.encoder(images, self.generator)
        q_all = self._q(self.critics, features, state, phase, base, torch.from_numpy(batch.action))
        loss = ((q_all - target) ** 2).mean()
        self._step(self.critic_optim, loss)
        self._polyak(self.critics, self.target_critics)
        self._polyak(self.encoder, self.target_encoder)
        self.critic_updates += 1
        return loss.item()

    def update_actor(self, batch: Batch) -> float:
        images, state, base, phase = self._tensors(batch)
        with torch.no_grad():
            features = self.encoder(images, self.generator)
        residual = torch.tanh(self.actor(self._cat(features, state, base, phase))) * self.scale
        for p in self.critics.parameters():
            p.requires_grad_(False)
        loss = -self._q(self.critics, features, state, phase, base, compose_action(base, residual)).mean()
        for p in self.critics.parameters():
            p.requires_grad_(True)
        self._step(self.actor_optim, loss)
        self._polyak(self.actor, self.target_actor)
        return loss.item()

    def _step(self, optim: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g['params']], self.lr.grad_clip_norm)
        optim.step()

    def _polyak(self, source: nn.Module, target: nn.Module) -> None:
        with torch.no_grad():
            for s, t in zip(source.parameters(), target.parameters()):
                t.mul_(1 - self.lr.target_tau).add_(s, alpha=self.lr.target_tau)


# -- data and timing ---------------------------------------------------------------------------------

def make_spec(images: bool) -> PolicySpec:
    return PolicySpec(state_dim=PROPRIO + TASK, action_dim=ACTION, chunk_length=CHUNK,
                      camera_names=CAMERAS if images else ())


def filled_buffer(spec: PolicySpec, steps: int = 1500, seed: int = 0) -> ReplayBuffer:
    """Random 50-step episodes (images as random uint8), like a replay buffer a while into training."""
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(spec, steps + 64)

    def obs() -> Observation:
        return Observation(proprio=rng.normal(size=PROPRIO).astype(np.float32),
                           task_state=rng.normal(size=TASK).astype(np.float32),
                           images={c: rng.integers(0, 256, (*spec.image_hw, 3), dtype=np.uint8)
                                   for c in spec.camera_names})
    current = obs()
    for t in range(steps):
        nxt = obs()
        buffer.add(Transition(observation=current, base_action=rng.uniform(-1, 1, ACTION).astype(np.float32),
                              chunk_phase=t % CHUNK, action=rng.uniform(-1, 1, ACTION).astype(np.float32),
                              reward=float(t % 50 == 49), next_observation=nxt,
                              next_base_action=rng.uniform(-1, 1, ACTION).astype(np.float32),
                              next_chunk_phase=(t + 1) % CHUNK, terminated=t % 50 == 49, truncated=False))
        current = obs() if t % 50 == 49 else nxt
    return buffer


def learner_for(recipe: ResidualRecipe, spec: PolicySpec) -> ResidualLearner:
    return ResidualLearner(apply_overrides(recipe, ['learner.critic_warmup_updates=0']), spec)


def timed(fn: Callable[[], object], count: int, threads: int) -> tuple[float, float]:
    """(CPU s, wall s) per call of `fn`, run `count` times with `threads` torch threads."""
    torch.set_num_threads(threads)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        fn()
    return (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count


def interleaved(cases: dict[str, tuple[Callable[[], object], int, int]], repeats: int) -> dict[str, tuple]:
    """Median (CPU s, wall s) per call of each case, cases alternated inside every repeat."""
    samples: dict[str, list] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (fn, count, threads) in cases.items():
            samples[name].append(timed(fn, count, threads))
    return {name: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v))
            for name, v in samples.items()}


def check_same_update(recipe: ResidualRecipe, spec: PolicySpec, batch: Batch) -> float:
    """Relative difference of the first critic loss of learner and reference from the same weights."""
    learner = learner_for(recipe, spec)
    reference = PlainTD3Ensemble(recipe, spec)
    reference.load_from(learner)
    ours = learner.update_critic(batch)['critic_loss']
    theirs = reference.update_critic(batch)
    return abs(ours - theirs) / max(abs(theirs), 1e-12)


# -- the two parts -----------------------------------------------------------------------------------

def paper_vs_reference(images: bool, args: argparse.Namespace, rng: np.random.Generator) -> None:
    recipe, spec = recipe_preset('paper'), make_spec(images)
    buffer = filled_buffer(spec)
    batch = buffer.sample(recipe.learner.batch_size, rng)
    mismatch = check_same_update(recipe, spec, batch)
    if mismatch > 1e-3:
        raise SystemExit(f'reference and learner disagree on the critic loss (relative {mismatch:.2e})')
    learner, reference = learner_for(recipe, spec), PlainTD3Ensemble(recipe, spec)
    for _ in range(1):                                          # warm up allocators and kernels
        learner.update_critic(batch), learner.update_actor(batch)
        reference.update_critic(batch), reference.update_actor(batch)
    n = 1 if images else args.state_updates
    cases = {}
    for part in ('critic', 'actor'):
        ref_fn, our_fn = getattr(reference, f'update_{part}'), getattr(learner, f'update_{part}')
        cases[f'reference {part}'] = (lambda f=ref_fn: f(batch), n, DEFAULT_THREADS)
        if DEFAULT_THREADS != 1:
            cases[f'reference/1 {part}'] = (lambda f=ref_fn: f(batch), n, 1)
        cases[f'learner {part}'] = (lambda f=our_fn: f(batch), n, args.threads)
    cases['sample'] = (lambda: buffer.sample(recipe.learner.batch_size, rng), 20, 1)
    res = interleaved(cases, args.image_repeats if images else args.repeats)
    utd, interval = recipe.learner.critic_updates_per_env_step, recipe.learner.actor_update_interval
    kind = 'two 84x84 cameras' if images else 'state'
    print(f'\n== paper sizes, {kind} (batch 256, 2x1024, 10 heads); same critic loss: rel diff {mismatch:.1e}')
    print(f'{"":18s} {"CPU ms/update":>14s} {"wall ms":>9s} {"updates/CPU-s":>14s}')
    for name, (cpu, wall) in res.items():
        print(f'{name:18s} {cpu * 1e3:14.1f} {wall * 1e3:9.1f} {1 / cpu:14.2f}')
    who = [w for w in ('reference', 'reference/1', 'learner') if f'{w} critic' in res]
    step = {w: utd * (res[f'{w} critic'][0] + res['sample'][0]) + utd / interval * res[f'{w} actor'][0] for w in who}
    for w in who[:-1]:
        label = f'{w} ({DEFAULT_THREADS if w == "reference" else 1} threads)'
        print(f'learner vs {label}: critic update {res[f"{w} critic"][0] / res["learner critic"][0]:.2f}x (CPU), '
              f'{res[f"{w} critic"][1] / res["learner critic"][1]:.2f}x (wall); env step at UTD {utd}, actor '
              f'every {interval}: {step[w]:.3f} vs {step["learner"]:.3f} CPU-s = '
              f'{step[w] / step["learner"]:.2f}x  [goal >= 2x]')
    print(f'learner: {1 / res["learner critic"][0]:.2f} critic updates/CPU-s, '
          f'{1 / step["learner"]:.3f} env steps/CPU-s')


def env_step_seconds(name: str, images: bool, args: argparse.Namespace, rng: np.random.Generator,
                     repeats: int) -> tuple[float, float, ResidualRecipe]:
    """(CPU s, wall s) per env step of preset `name`: learner.update(sampler, 1) with the actor training."""
    recipe, spec = recipe_preset(name), make_spec(images)
    buffer = filled_buffer(spec)
    learner = learner_for(recipe, spec)
    lr = recipe.learner                                      # whole actor cycles per timed call:
    per_step = lr.actor_update_interval // math.gcd(lr.critic_updates_per_env_step, lr.actor_update_interval)
    learner.update_critic(buffer.sample(lr.batch_size, rng))    # warm up allocators and kernels
    cpu, wall = zip(*(timed(lambda: learner.update(buffer, env_steps=per_step), 1, args.threads)
                      for _ in range(repeats)))
    return statistics.median(cpu) / per_step, statistics.median(wall) / per_step, recipe


def presets_per_env_step(args: argparse.Namespace, rng: np.random.Generator) -> None:
    print('\n== per env step (UTD critic updates + actor share + sampling), learner at '
          f'{args.threads} thread(s)')
    rows = []
    if 'images' in args.layouts:
        rows += [('paper', True, 1), ('cpu_image', True, args.repeats)]
    if 'state' in args.layouts:
        rows += [('paper', False, args.repeats), ('cpu_state', False, args.repeats)]
    measured = {}
    for name, images, repeats in rows:
        cpu, wall, recipe = env_step_seconds(name, images, args, rng, repeats)
        measured[(name, images)] = cpu
        lr, net = recipe.learner, recipe.network
        kind = 'images' if images else 'state'
        print(f'{name:10s} {kind:6s} UTD {lr.critic_updates_per_env_step} actor/{lr.actor_update_interval} '
              f'critic {net.critic_hidden_sizes}x{net.num_critic_heads} batch {lr.batch_size}: '
              f'{cpu * 1e3:9.1f} CPU-ms/env step ({1 / cpu:7.2f} steps/CPU-s; wall {wall * 1e3:.1f} ms)')
    if ('paper', True) in measured:
        ratio = measured[('paper', True)] / measured[('cpu_image', True)]
        print(f'cpu_image vs paper with images: {ratio:.1f}x faster per env step  [goal >= 20x]')
    if ('cpu_state', False) not in measured:
        return
    state = measured[('cpu_state', False)]
    print(f'cpu_state: {1 / state:.1f} env steps per CPU-second at UTD 4 on one thread  [goal >= 50/s on 2 cores]'
          f'; paper state {measured[("paper", False)] / state:.1f}x slower')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeats', type=int, default=3, help='interleaved repeats (median reported)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads of the learner (reference: default)')
    parser.add_argument('--state-updates', type=int, default=5, help='state-based updates per timed repeat')
    parser.add_argument('--image-repeats', type=int, default=1, help='interleaved repeats at paper sizes with images')
    parser.add_argument('--layouts', nargs='+', choices=('state', 'images'), default=['state', 'images'],
                        help='state-based and/or two 84x84 cameras (images take minutes of CPU at paper sizes)')
    parser.add_argument('--heap-keep-mb', type=int, default=256,
                        help='glibc heap threshold (learner.configure_cpu; 0 = glibc default)')
    parser.add_argument('--part', choices=('all', 'reference', 'presets'), default='all')
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    configure_cpu(threads=0, heap_keep_mb=args.heap_keep_mb)      # threads are set per timed call
    print(f'torch {torch.__version__}, default threads {DEFAULT_THREADS}, learner threads {args.threads}')
    if args.part in ('all', 'reference'):
        for layout in args.layouts:
            paper_vs_reference(layout == 'images', args, rng)
    if args.part in ('all', 'presets'):
        presets_per_env_step(args, rng)


if __name__ == '__main__':
    main()
