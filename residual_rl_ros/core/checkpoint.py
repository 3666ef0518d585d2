"""Learner checkpoints: one safetensors file with the JSON config in its header, written atomically.

A checkpoint holds the policy (encoder + residual actor), critic ensemble, both targets, both
optimizers, the normalizers, counters, the torch and numpy generator states and the recipe, so that
resuming is bit-identical to never stopping. A digest of all tensors is stored in the header and
checked on load; no pickle is ever read. Actor-only export (ONNX, weight bytes) is in `actor_export`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from residual_rl_ros.core.actor_export import (  # noqa: F401
    ActorWeights,
    actor_weights,
    export_actor_onnx,
    load_actor_weights,
    policy_from_weights,
)
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.learner import COUNTERS, ResidualLearner
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.normalizers import ActionNormalizer, StateNormalizer
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.serialization import atomic_write, pack, unpack

FORMAT_VERSION = 1
_MODULES = ('policy', 'critic', 'target_policy', 'target_critic')
_OPTIMIZERS = ('critic_optim', 'actor_optim')


def _optimizer_state(prefix: str, optim: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optim.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state['state'].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f'{prefix}.state.{index}.{key}'] = value.clone()
            else:
                scalars[f'{index}.{key}'] = value
    return tensors, {'param_groups': state['param_groups'], 'scalars': scalars}


def _restore_optimizer(prefix: str, optim: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor],
                       config: Mapping[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + '.state.'):
            index, name = key[len(prefix) + 7:].split('.', 1)
            state.setdefault(int(index), {})[name] = value
    for key, value in config['scalars'].items():
        index, name = key.split('.', 1)
        state.setdefault(int(index), {})[name] = value
    groups = [{k: tuple(v) if isinstance(v, list) and k != 'params' else v for k, v in group.items()}
              for group in config['param_groups']]                 # JSON turned tuples (betas) into lists
    optim.load_state_dict({'state': state, 'param_groups': groups})


def learner_state(learner: ResidualLearner) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """All tensors and the JSON config that `save_checkpoint` writes."""
    tensors: dict[str, torch.Tensor] = {}
    for name in _MODULES:
        tensors.update({f'{name}.{k}': v.clone() for k, v in getattr(learner, name).state_dict().items()})
    optim_config = {}
    for name in _OPTIMIZERS:
        optim_tensors, optim_config[name] = _optimizer_state(name, getattr(learner, name))
        tensors.update(optim_tensors)
    for name, normalizer in (('state_normalizer', learner.state_normalizer),
                             ('action_normalizer', learner.action_normalizer)):
        tensors.update({f'{name}.{k}': torch.from_numpy(v) for k, v in normalizer.state_dict().items()})
    tensors['rng.torch'] = learner.generator.get_state()
    config = {'format_version': FORMAT_VERSION, 'policy_version': learner.counters['policy_version'],
              'counters': dict(learner.counters), 'recipe': to_dict(learner.recipe),
              'spec': dataclasses.asdict(learner.spec), 'optimizers': optim_config,
              'rng_numpy': learner.rng.bit_generator.state}
    return tensors, config


def save_checkpoint(path: str | os.PathLike, learner: ResidualLearner) -> Path:
    """Write the learner to `path` (.safetensors) atomically, plus a readable `<path>.json` copy of the config."""
    path = Path(path)
    tensors, config = learner_state(learner)
    atomic_write(path, pack(tensors, config))
    atomic_write(path.with_name(path.name + '.json'), json.dumps(config, indent=1).encode())
    return path


def load_checkpoint(path: str | os.PathLike) -> ResidualLearner:
    """Rebuild a learner from `save_checkpoint` output; ValueError naming the file on any problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f'{path}: cannot read checkpoint ({exc})') from exc
    tensors, config = unpack(data, str(path))
    if config.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{path}: unsupported checkpoint format {config.get("format_version")!r}, '
                         f'expected {FORMAT_VERSION}')
    try:
        return _restore(tensors, config)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ValueError(f'{path}: checkpoint does not match its config ({exc})') from exc


def _restore(tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> ResidualLearner:
    def section(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + '.')}

    state_norm = StateNormalizer.from_state_dict({k: v.numpy() for k, v in section('state_normalizer').items()})
    action_norm = ActionNormalizer.from_state_dict({k: v.numpy() for k, v in section('action_normalizer').items()})
    learner = ResidualLearner(from_dict(ResidualRecipe, config['recipe']), PolicySpec(**config['spec']),
                              state_norm, action_norm)
    for name in _MODULES:
        getattr(learner, name).load_state_dict(section(name), strict=True)
    for name in _OPTIMIZERS:
        _restore_optimizer(name, getattr(learner, name), tensors, config['optimizers'][name])
    learner.generator.set_state(tensors['rng.torch'])
    learner.rng.bit_generator.state = config['rng_numpy']
    learner.counters = {name: int(config['counters'][name]) for name in COUNTERS}
    return learner


def checkpoint_config(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON config stored in a checkpoint (format and policy versions, counters, recipe, spec)."""
    _, config = unpack(Path(path).read_bytes(), str(path))
    return config


def read_run_state(folder: Path, name: str) -> dict:
    """The JSON counters a run writes beside its checkpoint; ValueError naming the file when unreadable."""
    try:
        return json.loads((Path(folder) / name).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f'{folder}: no readable {name} to resume from ({exc})') from exc


__all__ = ['FORMAT_VERSION', 'ActorWeights', 'actor_weights', 'checkpoint_config', 'export_actor_onnx',
           'learner_state', 'load_actor_weights', 'load_checkpoint', 'policy_from_weights', 'read_run_state',
           'save_checkpoint']
