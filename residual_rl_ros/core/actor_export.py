"""Ship the residual policy out of the learner: weight blobs for remote processes, and ONNX.

`ActorWeights` mirrors the PolicyWeights message: `data` is a safetensors blob (policy tensors and
normalizer statistics, the config and a tensor digest in its header), `sha256` the hex SHA-256 of
`data`, `config_json` the architecture. A receiver rebuilds a fresh policy and validates everything
before touching the one it runs, so a bad blob never replaces a working actor.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from residual_rl_ros.core.actor_backends import (ActorRunner, PositionalPolicy, build_runner, compile_actor,
                                                 onnx_model_bytes)
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy
from residual_rl_ros.core.normalizers import ActionNormalizer, StateNormalizer
from residual_rl_ros.core.recipe import NetworkRecipe
from residual_rl_ros.core.replay import observation_state
from residual_rl_ros.core.serialization import pack, unpack
from residual_rl_ros.core.types import Observation

if TYPE_CHECKING:
    from residual_rl_ros.core.learner import ResidualLearner

WEIGHTS_FORMAT = 'safetensors'
WEIGHTS_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ActorWeights:
    """A serialized residual policy, field for field the PolicyWeights message."""

    version: int
    sha256: str
    config_json: str
    data: bytes
    format: str = WEIGHTS_FORMAT


@dataclasses.dataclass
class LoadedActor:
    """A policy rebuilt from `ActorWeights`, with the normalizers it was trained with."""

    policy: ResidualPolicy
    state_normalizer: StateNormalizer
    action_normalizer: ActionNormalizer
    version: int
    runner: ActorRunner | None = None     # compiled batch-1 inference (actor_backends); None = eager torch

    def residual(self, observation: Observation, base_action_norm: np.ndarray, phase: int) -> np.ndarray:
        """Deterministic residual (A,) in normalized units for one observation."""
        if self.runner is None:
            self.runner = compile_actor(self.policy, 'eager')
        state = self.state_normalizer.normalize(observation_state(observation))
        return self.runner(state, base_action_norm, phase, observation.images)


def actor_weights(learner: ResidualLearner) -> ActorWeights:
    """Serialize the learner's current policy and normalizers (version = its policy_version)."""
    tensors = {f'policy.{k}': v for k, v in learner.policy.state_dict().items()}
    for prefix, normalizer in (('state_normalizer', learner.state_normalizer),
                               ('action_normalizer', learner.action_normalizer)):
        tensors.update({f'{prefix}.{k}': torch.from_numpy(v) for k, v in normalizer.state_dict().items()})
    version = int(learner.counters['policy_version'])
    config = {'format_version': WEIGHTS_FORMAT_VERSION, 'version': version,
              'spec': dataclasses.asdict(learner.spec), 'network': to_dict(learner.recipe.network)}
    data = pack(tensors, config)
    return ActorWeights(version=version, sha256=hashlib.sha256(data).hexdigest(),
                        config_json=json.dumps(config), data=data)


def policy_from_weights(weights: ActorWeights) -> LoadedActor:
    """Validate `weights` (format, checksum, config, key set, shapes) and build a fresh policy from them."""
    name = f'actor weights v{weights.version}'
    if weights.format != WEIGHTS_FORMAT:
        raise ValueError(f'{name}: format {weights.format!r} is not {WEIGHTS_FORMAT!r}')
    actual = hashlib.sha256(weights.data).hexdigest()
    if actual != weights.sha256.strip().lower():
        raise ValueError(f'{name}: sha256 mismatch (message says {weights.sha256!r}, data hashes to {actual})')
    tensors, config = unpack(weights.data, name)
    try:
        sent = json.loads(weights.config_json)
    except ValueError as exc:
        raise ValueError(f'{name}: config_json is not JSON ({exc})') from exc
    if sent != config:
        raise ValueError(f'{name}: config_json differs from the config stored with the tensors')
    if config.get('format_version') != WEIGHTS_FORMAT_VERSION:
        raise ValueError(f'{name}: unsupported weights format {config.get("format_version")!r}')
    try:
        spec, network = PolicySpec(**config['spec']), from_dict(NetworkRecipe, config['network'])
    except (KeyError, TypeError) as exc:
        raise ValueError(f'{name}: bad config ({exc!r})') from exc
    with torch.random.fork_rng(devices=[]):
        policy = ResidualPolicy(spec, network)
    _load_exact(policy, _section(tensors, 'policy'), name)
    state_norm = StateNormalizer.from_state_dict(_arrays(_section(tensors, 'state_normalizer')))
    action_norm = ActionNormalizer.from_state_dict(_arrays(_section(tensors, 'action_normalizer')))
    if state_norm.dim != spec.state_dim or action_norm.dim != spec.action_dim:
        raise ValueError(f'{name}: normalizer sizes ({state_norm.dim}, {action_norm.dim}) do not match the spec')
    return LoadedActor(policy.eval(), state_norm, action_norm, int(weights.version))


def actor_for_inference(weights: ActorWeights, backend: str, threads: int = 1) -> tuple[LoadedActor, str]:
    """`policy_from_weights` plus a runner on `backend` (eager when it fails its check); returns (actor, note)."""
    actor = policy_from_weights(weights)
    actor.runner, note = build_runner(actor.policy, backend, threads)
    return actor, note


def load_actor_weights(policy: ResidualPolicy, weights: ActorWeights) -> LoadedActor:
    """Copy validated `weights` into the running `policy`; on any problem raise and leave it untouched."""
    loaded = policy_from_weights(weights)
    if loaded.policy.spec != policy.spec:
        raise ValueError(f'actor weights v{weights.version}: spec {loaded.policy.spec} differs from the '
                         f'running policy {policy.spec}')
    _load_exact(policy, loaded.policy.state_dict(), f'actor weights v{weights.version}')
    return dataclasses.replace(loaded, policy=policy)


def _section(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + '.')}


def _arrays(tensors: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in tensors.items()}


def _load_exact(module: nn.Module, tensors: dict[str, torch.Tensor], name: str) -> None:
    """load_state_dict after checking keys, shapes and dtypes, so a failure never half-loads."""
    current = module.state_dict()
    if set(current) != set(tensors):
        raise ValueError(f'{name}: tensor names differ (missing {sorted(set(current) - set(tensors))}, '
                         f'unexpected {sorted(set(tensors) - set(current))})')
    for key, value in current.items():
        if tensors[key].shape != value.shape or tensors[key].dtype != value.dtype:
            raise ValueError(f'{name}: {key} has shape {tuple(tensors[key].shape)} {tensors[key].dtype}, '
                             f'expected {tuple(value.shape)} {value.dtype}')
    module.load_state_dict(tensors, strict=True)


def onnx_inputs(spec: PolicySpec, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random example inputs named as in the exported graph."""
    rng = np.random.default_rng(seed)
    inputs: dict[str, Any] = {
        'state': rng.normal(size=(batch, spec.state_dim)).astype(np.float32),
        'base_action': rng.uniform(-1, 1, (batch, spec.action_dim)).astype(np.float32),
        'phase': rng.integers(0, spec.chunk_length, batch).astype(np.int64)}
    for cam in spec.camera_names:
        inputs[f'image_{cam}'] = rng.integers(0, 256, (batch, *spec.image_hw, 3), dtype=np.uint8)
    return inputs


def export_actor_onnx(policy: ResidualPolicy, path: str | os.PathLike, opset: int = 17, check: bool = True,
                      atol: float = 1e-5) -> float:
    """Export the policy to ONNX (dynamic batch) atomically; with `check`, compare onnxruntime to torch.

    Inputs: state (B, S) standardized float32, base_action (B, A) normalized, phase (B,) int64,
    image_<camera> (B, H, W, 3) uint8; output: residual (B, A). Returns the max abs difference.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix='.tmp')
    os.close(fd)
    try:
        Path(tmp).write_bytes(onnx_model_bytes(policy, opset))
        error = onnx_max_error(policy, tmp) if check else 0.0
        if error > atol:
            raise ValueError(f'{path}: ONNX output differs from torch by {error:.3g} > {atol}')
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return error


def onnx_max_error(policy: ResidualPolicy, onnx_path: str | os.PathLike, batch: int = 3) -> float:
    """Max abs difference between onnxruntime and torch on random inputs."""
    import onnxruntime  # optional dependency: only needed to check an export

    inputs = onnx_inputs(policy.spec, batch, seed=1)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    (ort_out,) = session.run(['residual'], inputs)
    with torch.no_grad():
        torch_out = PositionalPolicy(policy).eval()(*(torch.from_numpy(v) for v in inputs.values())).numpy()
    return float(np.max(np.abs(ort_out - torch_out)))


def save_actor_weights(path: str | os.PathLike, weights: ActorWeights) -> Path:
    """Write the weight blob (a self-describing safetensors file) atomically; returns the path."""
    from residual_rl_ros.core.serialization import atomic_write
    atomic_write(path, weights.data)
    return Path(path)


def read_actor_weights_file(path: str | os.PathLike) -> ActorWeights:
    """Read a blob written by `save_actor_weights`; ValueError naming the file when it is unusable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f'{path}: cannot read actor weights ({exc.strerror})') from exc
    _, config = unpack(data, str(path))
    return ActorWeights(version=int(config.get('version', 0)), sha256=hashlib.sha256(data).hexdigest(),
                        config_json=json.dumps(config), data=data)
