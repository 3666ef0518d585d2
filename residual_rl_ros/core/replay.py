"""Preallocated replay memory with n-step sampling that never crosses an episode boundary.

Each slot holds one *frame* (state, uint8 images, normalized base action, chunk phase) and, when the
frame starts a transition, that transition's executed action, reward and flags. The next observation
of a transition is the frame in the following slot, so an episode of T steps takes T + 1 slots and
images are stored once. A global write stamp per slot tells whether the following slot still belongs
to the same episode (ring overwrites and unwritten slots are detected, never sampled across).

The last frame of an unfinished episode is written *provisionally*: the transition before it can be
sampled at once (bootstrapping from that frame); a continuing transition overwrites the slot. A transition
whose observation and base action are the very objects of the open frame (the transition assembler hands
them on that way) continues it without a comparison and without rewriting the frame; arrays are treated
as immutable once added. `add_many` stores a sequence exactly as `add` would, one vectorized write per
run of continuing transitions.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from residual_rl_ros.core.atomic import atomic_file
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.types import Observation, Transition

_FORMAT_VERSION = 1
_STEP_FIELDS = ('action', 'reward', 'terminated', 'truncated', 'intervention', 'is_step')


@dataclasses.dataclass
class Batch:
    """n-step transitions as arrays; `discount` is gamma^k for bootstrapping, 0 after termination."""

    state: np.ndarray
    images: dict[str, np.ndarray]
    base_action: np.ndarray
    phase: np.ndarray
    action: np.ndarray
    reward: np.ndarray          # discounted n-step return
    discount: np.ndarray
    next_state: np.ndarray
    next_images: dict[str, np.ndarray]
    next_base_action: np.ndarray
    next_phase: np.ndarray
    intervention: np.ndarray

    def __len__(self) -> int:
        return int(self.reward.shape[0])


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """Stack batches along the first axis."""
    fields = {}
    for f in dataclasses.fields(Batch):
        values = [getattr(b, f.name) for b in batches]
        if isinstance(values[0], dict):
            fields[f.name] = {k: np.concatenate([v[k] for v in values]) for k in values[0]}
        else:
            fields[f.name] = np.concatenate(values)
    return Batch(**fields)


def observation_state(observation: Observation) -> np.ndarray:
    """The state vector the networks see: concat(proprio, task_state), float32."""
    return np.concatenate([np.asarray(observation.proprio, np.float32).ravel(),
                           np.asarray(observation.task_state, np.float32).ravel()])


class ReplayBuffer:
    """Ring buffer of episode frames with vectorized n-step sampling."""

    def __init__(self, spec: PolicySpec, capacity_steps: int, n_step: int = 3, gamma: float = 0.99) -> None:
        if capacity_steps < 2 or n_step < 1 or not 0.0 <= gamma <= 1.0:
            raise ValueError(f'ReplayBuffer needs capacity_steps >= 2, n_step >= 1, gamma in [0, 1]; got '
                             f'{capacity_steps}, {n_step}, {gamma}')
        self.spec, self.capacity, self.n_step, self.gamma = spec, int(capacity_steps), n_step, gamma
        self.arrays = {name: np.zeros((self.capacity, *shape), dtype)
                       for name, (shape, dtype) in self.layout(spec).items()}
        self.arrays['stamp'][:] = -1
        self.counter = 0            # stamps written so far (committed slots)
        self.provisional = False    # slot `counter % capacity` holds an unfinished episode's last frame
        self._open: tuple = (None, None, None)   # (observation, base action, phase) in the provisional slot

    @staticmethod
    def layout(spec: PolicySpec) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Per-slot array shapes and dtypes."""
        a, h, w = spec.action_dim, *spec.image_hw
        layout = {'state': ((spec.state_dim,), np.float32), 'base_action': ((a,), np.float32),
                  'phase': ((), np.int32), 'action': ((a,), np.float32), 'reward': ((), np.float32),
                  'terminated': ((), np.bool_), 'truncated': ((), np.bool_), 'intervention': ((), np.bool_),
                  'is_step': ((), np.bool_), 'stamp': ((), np.int64)}
        layout.update({f'image/{cam}': ((h, w, 3), np.uint8) for cam in spec.camera_names})
        return {k: (s, np.dtype(d)) for k, (s, d) in layout.items()}

    @classmethod
    def bytes_per_step(cls, spec: PolicySpec) -> int:
        """Memory of one slot (one stored step) in bytes."""
        return int(sum(int(np.prod(s)) * d.itemsize for s, d in cls.layout(spec).values()))

    @classmethod
    def capacity_for_budget(cls, spec: PolicySpec, budget_bytes: int) -> int:
        """How many steps fit in `budget_bytes`."""
        return int(budget_bytes) // cls.bytes_per_step(spec)

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))

    def __len__(self) -> int:
        """Slots holding data (frames, including terminal frames)."""
        return min(self.counter + int(self.provisional), self.capacity)

    # -- writing ---------------------------------------------------------------------------------

    def add(self, t: Transition) -> None:
        """Append one transition; a transition that does not continue the open episode closes it."""
        if self.provisional:
            same = self._open
            if not (t.observation is same[0] and t.base_action is same[1] and t.chunk_phase == same[2]):
                if not self._continues(t):
                    self._commit_provisional()
                self._write_frame(t.observation, t.base_action, t.chunk_phase)
        else:
            self._write_frame(t.observation, t.base_action, t.chunk_phase)
        arrays, slot = self.arrays, self.counter % self.capacity
        arrays['action'][slot] = t.action
        arrays['reward'][slot] = t.reward
        arrays['terminated'][slot] = t.terminated
        arrays['truncated'][slot] = t.truncated
        arrays['intervention'][slot] = t.intervention
        arrays['is_step'][slot] = True
        self.counter += 1
        self._write_frame(t.next_observation, t.next_base_action, t.next_chunk_phase)
        self.provisional = not (t.terminated or t.truncated)
        if self.provisional:
            self._open = (t.next_observation, t.next_base_action, t.next_chunk_phase)
        else:
            self.counter += 1

    def add_many(self, transitions: Sequence[Transition]) -> None:
        """Store `transitions` exactly as `add` one by one would: each run of transitions that continue one
        another (and fit in the ring) is written with one vectorized assignment per array."""
        start, count = 0, len(transitions)
        while start < count:
            end = start + 1
            while (end < count and end - start < self.capacity - 1 and not transitions[end - 1].terminated
                   and not transitions[end - 1].truncated and self._follows(transitions[end - 1], transitions[end])):
                end += 1
            if end - start == 1:
                self.add(transitions[start])
            else:
                self._add_run(transitions[start:end])
            start = end

    def _add_run(self, run: Sequence[Transition]) -> None:
        """Write transitions that continue one another (at most capacity - 1 of them)."""
        first = run[0]
        if self.provisional and not (first.observation is self._open[0] and first.base_action is self._open[1]
                                     and first.chunk_phase == self._open[2]) and not self._continues(first):
            self._commit_provisional()
        k, last = len(run), run[-1]
        frames = [t.observation for t in run] + [last.next_observation]
        slots = (self.counter + np.arange(k + 1)) % self.capacity
        arrays = self.arrays
        arrays['state'][slots] = np.array([observation_state(o) for o in frames], np.float32)
        for cam in self.spec.camera_names:
            arrays[f'image/{cam}'][slots] = np.stack([o.images[cam] for o in frames])
        arrays['base_action'][slots] = np.array([t.base_action for t in run] + [last.next_base_action], np.float32)
        arrays['phase'][slots] = [t.chunk_phase for t in run] + [last.next_chunk_phase]
        steps, tail = slots[:k], slots[k]
        arrays['action'][steps] = np.array([t.action for t in run], np.float32)
        arrays['reward'][steps] = [t.reward for t in run]
        arrays['terminated'][steps] = [t.terminated for t in run]
        arrays['truncated'][steps] = [t.truncated for t in run]
        arrays['intervention'][steps] = [t.intervention for t in run]
        arrays['is_step'][steps] = True
        for name in _STEP_FIELDS:
            arrays[name][tail] = 0
        arrays['stamp'][slots] = self.counter + np.arange(k + 1)
        self.counter += k
        self.provisional = not (last.terminated or last.truncated)
        if self.provisional:
            self._open = (last.next_observation, last.next_base_action, last.next_chunk_phase)
        else:
            self.counter += 1

    def end_episode(self) -> None:
        """Close the open episode (if any) without a label: its last frame becomes final."""
        if self.provisional:
            self._commit_provisional()

    def _write_frame(self, obs: Observation, base_action: np.ndarray, phase: int) -> None:
        arrays, slot = self.arrays, self.counter % self.capacity
        proprio, task = obs.proprio, obs.task_state
        if (isinstance(proprio, np.ndarray) and isinstance(task, np.ndarray) and proprio.ndim == task.ndim == 1
                and proprio.size + task.size == self.spec.state_dim):   # = observation_state, without a concat
            arrays['state'][slot, :proprio.size] = proprio
            arrays['state'][slot, proprio.size:] = task
        else:
            arrays['state'][slot] = observation_state(obs)
        for cam in self.spec.camera_names:
            arrays[f'image/{cam}'][slot] = obs.images[cam]
        arrays['base_action'][slot] = base_action
        arrays['phase'][slot] = phase
        for name in _STEP_FIELDS:
            arrays[name][slot] = 0
        arrays['stamp'][slot] = self.counter

    def _continues(self, t: Transition) -> bool:
        slot = self.counter % self.capacity
        same = (np.array_equal(self.arrays['state'][slot], observation_state(t.observation))
                and np.array_equal(self.arrays['base_action'][slot], np.asarray(t.base_action, np.float32))
                and int(self.arrays['phase'][slot]) == int(t.chunk_phase))
        return same and all(np.array_equal(self.arrays[f'image/{c}'][slot], t.observation.images[c])
                            for c in self.spec.camera_names)

    def _follows(self, previous: Transition, t: Transition) -> bool:
        """Whether `add(t)` right after `add(previous)` would continue the episode (see `add`)."""
        if (t.observation is previous.next_observation and t.base_action is previous.next_base_action
                and t.chunk_phase == previous.next_chunk_phase):
            return True
        before, now = previous.next_observation, t.observation
        return (np.array_equal(observation_state(before), observation_state(now))
                and np.array_equal(np.asarray(previous.next_base_action, np.float32),
                                   np.asarray(t.base_action, np.float32))
                and int(previous.next_chunk_phase) == int(t.chunk_phase)
                and all(np.array_equal(np.asarray(before.images[c], np.uint8), now.images[c])
                        for c in self.spec.camera_names))

    def _commit_provisional(self) -> None:
        self.counter += 1
        self.provisional = False
        self._open = (None, None, None)

    # -- sampling --------------------------------------------------------------------------------

    def _valid_starts(self, slots: np.ndarray) -> np.ndarray:
        stamp = self.arrays['stamp']
        return (self.arrays['is_step'][slots] & (stamp[slots] >= 0)
                & (stamp[(slots + 1) % self.capacity] == stamp[slots] + 1))

    def can_sample(self) -> bool:
        """True once a transition was added (the newest step always has its next frame)."""
        return self.counter > 0

    def _draw_starts(self, count: int, rng: np.random.Generator) -> np.ndarray:
        slots = rng.integers(0, max(len(self), 1), count)
        for _ in range(32):
            bad = ~self._valid_starts(slots)
            if not bad.any():
                return slots
            slots[bad] = rng.integers(0, len(self), int(bad.sum()))
        valid = np.flatnonzero(self._valid_starts(np.arange(len(self))))
        if valid.size == 0:
            raise ValueError('ReplayBuffer has no complete transition to sample')
        bad = ~self._valid_starts(slots)
        slots[bad] = rng.choice(valid, int(bad.sum()))
        return slots

    def sample(self, count: int, rng: np.random.Generator) -> Batch:
        """Draw `count` n-step transitions uniformly over valid start slots."""
        return self.gather(self._draw_starts(count, rng))

    def gather(self, start: np.ndarray) -> Batch:
        """n-step transitions starting at `start` slots (vectorized over the batch)."""
        arr, cap = self.arrays, self.capacity
        stamp0 = arr['stamp'][start]
        ret = np.zeros(start.shape, np.float64)
        scale = np.ones(start.shape, np.float64)
        alive = np.ones(start.shape, bool)
        terminal = np.zeros(start.shape, bool)
        boot = (start + 1) % cap
        for k in range(self.n_step):
            idx, nxt = (start + k) % cap, (start + k + 1) % cap
            usable = (alive & arr['is_step'][idx] & (arr['stamp'][idx] == stamp0 + k)
                      & (arr['stamp'][nxt] == stamp0 + k + 1))
            ret += np.where(usable, scale * arr['reward'][idx], 0.0)
            scale = np.where(usable, scale * self.gamma, scale)
            boot = np.where(usable, nxt, boot)
            terminal |= usable & arr['terminated'][idx]
            alive = usable & ~arr['terminated'][idx] & ~arr['truncated'][idx]
        frame = lambda name, slots: arr[name][slots]  # noqa: E731
        cams = self.spec.camera_names
        return Batch(state=frame('state', start), images={c: frame(f'image/{c}', start) for c in cams},
                     base_action=frame('base_action', start), phase=frame('phase', start).astype(np.int64),
                     action=frame('action', start), reward=ret.astype(np.float32),
                     discount=np.where(terminal, 0.0, scale).astype(np.float32),
                     next_state=frame('state', boot), next_images={c: frame(f'image/{c}', boot) for c in cams},
                     next_base_action=frame('base_action', boot),
                     next_phase=frame('phase', boot).astype(np.int64),
                     intervention=frame('intervention', start))

    # -- persistence -----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the buffer to an .npz file atomically (temp file + rename); no pickle."""
        size = len(self)
        meta = {'format_version': _FORMAT_VERSION, 'capacity': self.capacity, 'n_step': self.n_step,
                'gamma': self.gamma, 'counter': self.counter, 'provisional': self.provisional,
                'spec': dataclasses.asdict(self.spec)}
        payload = {f'a/{k}': v[:size] for k, v in self.arrays.items()}
        payload['meta'] = np.array(json.dumps(meta))
        _atomic_savez(Path(path), payload)

    @classmethod
    def load(cls, path: str | os.PathLike) -> 'ReplayBuffer':
        """Read a buffer written by `save`; raise ValueError naming the file when it is bad."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data['meta']))
                if meta.get('format_version') != _FORMAT_VERSION:
                    raise ValueError(f'{path}: unsupported replay format {meta.get("format_version")}')
                buffer = cls(PolicySpec(**meta['spec']), meta['capacity'], meta['n_step'], meta['gamma'])
                for name, array in buffer.arrays.items():
                    stored = data[f'a/{name}']
                    if stored.shape[1:] != array.shape[1:] or stored.dtype != array.dtype:
                        raise ValueError(f'{path}: array {name} has shape {stored.shape} {stored.dtype}, '
                                         f'expected (*, {array.shape[1:]}) {array.dtype}')
                    array[:len(stored)] = stored
        except (OSError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f'{path}: not a readable replay file ({exc})') from exc
        buffer.counter, buffer.provisional = int(meta['counter']), bool(meta['provisional'])
        return buffer


def _atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_file(path) as f:
        np.savez(f, **arrays)


class MixedSampler:
    """Draws each batch from several buffers at fixed fractions (renormalized over non-empty buffers)."""

    def __init__(self, buffers: Mapping[str, ReplayBuffer], fractions: Mapping[str, float]) -> None:
        unknown = set(fractions) - set(buffers)
        if unknown or any(f < 0 for f in fractions.values()):
            raise ValueError(f'MixedSampler fractions {dict(fractions)} must be >= 0 and name buffers '
                             f'{sorted(buffers)}')
        self.buffers, self.fractions = dict(buffers), dict(fractions)

    def counts(self, batch_size: int) -> dict[str, int]:
        """Samples per buffer (largest-remainder rounding over the buffers that can be sampled)."""
        live = {k: f for k, f in self.fractions.items() if f > 0 and self.buffers[k].can_sample()}
        if not live:
            raise ValueError('MixedSampler: no buffer with a positive fraction holds a transition')
        total = sum(live.values())
        exact = {k: batch_size * f / total for k, f in live.items()}
        counts = {k: int(np.floor(v)) for k, v in exact.items()}
        by_remainder = sorted(live, key=lambda k: (counts[k] - exact[k], k))
        for k in by_remainder[:batch_size - sum(counts.values())]:
            counts[k] += 1
        return counts

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        parts = [self.buffers[k].sample(n, rng) for k, n in sorted(self.counts(batch_size).items()) if n]
        return concat_batches(parts)


def make_buffers(recipe: ResidualRecipe, spec: PolicySpec,
                 demo_capacity_steps: int) -> tuple[dict[str, ReplayBuffer], MixedSampler]:
    """Demo / online / intervention buffers (n-step and gamma from the learner recipe) and their sampler."""
    replay, n_step, gamma = recipe.replay, recipe.learner.n_step, recipe.learner.gamma

    def capped(steps: int) -> int:
        budget = replay.memory_budget_bytes
        return min(steps, ReplayBuffer.capacity_for_budget(spec, budget)) if budget else steps

    buffers = {'demo': ReplayBuffer(spec, demo_capacity_steps, n_step, gamma),
               'online': ReplayBuffer(spec, capped(replay.online_capacity_steps), n_step, gamma),
               'intervention': ReplayBuffer(spec, capped(replay.intervention_capacity_steps), n_step, gamma)}
    fractions = {'demo': replay.demo_fraction, 'intervention': replay.intervention_fraction,
                 'online': 1.0 - replay.demo_fraction - replay.intervention_fraction}
    return buffers, MixedSampler(buffers, fractions)
