"""Batch-1 inference of the residual policy on the control path, with a choice of backend.

Backends run the same `ResidualPolicy`: `eager` (torch under no_grad), `inference_mode`, `torchscript`
(traced and frozen) and `onnxruntime` (exported in memory, one intra-op thread). `build_runner` checks a
compiled backend against eager torch on random inputs and falls back to eager when it cannot be built
or disagrees, so the control path always has a correct runner. For state-only policies ONNX Runtime exports
each architecture once and hands later weight versions to a new session as initializers (no re-export:
~0.06 s instead of ~0.3 s per version); with cameras it re-exports, because ORT's NCHWc layout optimizer
keeps the exported conv weights and ignores overridden ones (measured: outputs off by 0.14). Inputs are
copied into buffers preallocated per runner: a tick allocates only what the backend itself returns.
bench/inference_backends.py measures them; DEFAULT_BACKEND is the fastest correct one there.
"""
from __future__ import annotations

import contextlib
import copy
import io
import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy

BACKENDS = ('eager', 'inference_mode', 'torchscript', 'onnxruntime')
#: Fastest correct backend in bench/inference_backends.py on 2 CPU cores (state and image policies).
DEFAULT_BACKEND = 'onnxruntime'
AGREEMENT_ATOL = 1e-5

Forward = Callable[..., np.ndarray]     # (state, base_action, phase, *images) batch-1 arrays -> (1, A)


class ActorRunner:
    """Calls one backend with preallocated batch-1 inputs; `__call__` returns the residual (A,)."""

    def __init__(self, spec: PolicySpec, backend: str, forward: Forward) -> None:
        self.spec, self.backend, self._forward = spec, backend, forward
        self.state = np.zeros((1, spec.state_dim), np.float32)
        self.base_action = np.zeros((1, spec.action_dim), np.float32)
        self.phase = np.zeros(1, np.int64)

    def __call__(self, state_norm: np.ndarray, base_action_norm: np.ndarray, phase: int,
                 images: Mapping[str, np.ndarray]) -> np.ndarray:
        """state_norm (S,) standardized, base_action_norm (A,) normalized, images camera -> (H, W, 3) uint8."""
        self.state[0] = state_norm
        self.base_action[0] = base_action_norm
        self.phase[0] = phase
        pixels = [np.asarray(images[c], np.uint8)[None] for c in self.spec.camera_names]
        return self._forward(self.state, self.base_action, self.phase, *pixels)[0]


class PositionalPolicy(torch.nn.Module):
    """(state, base_action, phase, *images in camera order) -> residual: the form every backend runs."""

    def __init__(self, policy: ResidualPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, state: torch.Tensor, base_action: torch.Tensor, phase: torch.Tensor,
                *images: torch.Tensor) -> torch.Tensor:
        return self.policy(dict(zip(self.policy.spec.camera_names, images)), state, base_action, phase)


def example_inputs(spec: PolicySpec, batch: int = 1, seed: int = 0) -> list[np.ndarray]:
    """Random positional inputs: state, base_action, phase, then one uint8 image per camera."""
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=(batch, spec.state_dim)).astype(np.float32),
              rng.uniform(-1, 1, (batch, spec.action_dim)).astype(np.float32),
              rng.integers(0, spec.chunk_length, batch).astype(np.int64)]
    return inputs + [rng.integers(0, 256, (batch, *spec.image_hw, 3), dtype=np.uint8)
                     for _ in spec.camera_names]


def _torch_forward(module: torch.nn.Module, context: Callable[[], contextlib.AbstractContextManager]) -> Forward:
    def forward(*arrays: np.ndarray) -> np.ndarray:
        with context():
            return module(*(torch.from_numpy(a) for a in arrays)).numpy()
    return forward


def _torchscript_forward(policy: ResidualPolicy) -> Forward:
    example = tuple(torch.from_numpy(a) for a in example_inputs(policy.spec))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')             # TorchScript is deprecated upstream; still supported here
        traced = torch.jit.freeze(torch.jit.trace(PositionalPolicy(policy).eval(), example))
    return _torch_forward(traced, torch.no_grad)


def onnx_model_bytes(policy: ResidualPolicy, opset: int = 17) -> bytes:
    """The policy as an ONNX model (dynamic batch; inputs state, base_action, phase, image_<camera>)."""
    names = ['state', 'base_action', 'phase'] + [f'image_{c}' for c in policy.spec.camera_names]
    example = tuple(torch.from_numpy(a) for a in example_inputs(policy.spec, batch=2))
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)    # the TorchScript exporter is deprecated
        torch.onnx.export(PositionalPolicy(policy).eval(), example, buffer, input_names=names,
                          output_names=['residual'], opset_version=opset,
                          dynamic_axes={n: {0: 'batch'} for n in names + ['residual']}, dynamo=False)
    return buffer.getvalue()


_TEMPLATES: dict[tuple, tuple[bytes, tuple[str, ...]]] = {}     # architecture -> (ONNX model, initializer names)


def _template(policy: ResidualPolicy) -> tuple[bytes, tuple[str, ...]]:
    """The policy's ONNX graph, exported once per architecture from a copy with distinct random weights
    (equal tensors would be merged by the exporter); every initializer is a parameter, named as in
    PositionalPolicy's state dict, so a new weight version only swaps initializers (no re-export)."""
    import onnx

    key = (repr(policy), policy.spec, tuple(policy.actor.bound_values.tolist()), policy.actor.phase_encoding)
    if key not in _TEMPLATES:
        template = copy.deepcopy(policy)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for parameter in template.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        model = onnx_model_bytes(template)
        names = tuple(i.name for i in onnx.load_from_string(model).graph.initializer)
        expected = set(PositionalPolicy(template).state_dict())
        if not set(names) <= expected:
            raise ValueError(f'ONNX initializers that are not parameters: {sorted(set(names) - expected)[:4]}')
        _TEMPLATES[key] = (model, names)
    return _TEMPLATES[key]


def _onnxruntime_forward(policy: ResidualPolicy, threads: int) -> Forward:
    import onnxruntime  # optional: only this backend needs it

    if policy.spec.camera_names:
        model, names = onnx_model_bytes(policy), ()
    else:
        model, names = _template(policy)
    state = {k: v.detach().contiguous().numpy() for k, v in PositionalPolicy(policy).state_dict().items()}
    values = [onnxruntime.OrtValue.ortvalue_from_numpy(state[name]) for name in names]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = max(threads, 1), 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')   # no busy-wait on a shared core
    for name, value in zip(names, values):
        options.add_initializer(name, value)       # this version's weights; `values` outlive the session
    session = onnxruntime.InferenceSession(model, options, providers=['CPUExecutionProvider'])
    inputs = [i.name for i in session.get_inputs()]

    def forward(*arrays: np.ndarray) -> np.ndarray:
        return session.run(None, dict(zip(inputs, arrays)))[0]
    forward.keep_alive = (values, state)          # type: ignore[attr-defined]
    return forward


def compile_actor(policy: ResidualPolicy, backend: str, threads: int = 1) -> ActorRunner:
    """A runner for `policy` (in eval mode) on `backend`; raises ValueError for an unknown backend."""
    policy.eval()
    if backend == 'eager':
        forward = _torch_forward(PositionalPolicy(policy), torch.no_grad)
    elif backend == 'inference_mode':
        forward = _torch_forward(PositionalPolicy(policy), torch.inference_mode)
    elif backend == 'torchscript':
        forward = _torchscript_forward(policy)
    elif backend == 'onnxruntime':
        forward = _onnxruntime_forward(policy, threads)
    else:
        raise ValueError(f'inference backend {backend!r} is not one of {", ".join(BACKENDS)}')
    return ActorRunner(policy.spec, backend, forward)


def max_difference(policy: ResidualPolicy, runner: ActorRunner, samples: int = 4) -> float:
    """Max abs difference between `runner` and eager torch on random batch-1 inputs."""
    reference = compile_actor(policy, 'eager')
    worst = 0.0
    for seed in range(samples):
        state, base, phase, *images = example_inputs(policy.spec, seed=seed)
        pixels = {c: image[0] for c, image in zip(policy.spec.camera_names, images)}
        got = runner(state[0], base[0], int(phase[0]), pixels)
        want = reference(state[0], base[0], int(phase[0]), pixels)
        worst = max(worst, float(np.max(np.abs(np.asarray(got, np.float64) - want))))
    return worst


def build_runner(policy: ResidualPolicy, backend: str, threads: int = 1,
                 atol: float = AGREEMENT_ATOL) -> tuple[ActorRunner, str]:
    """The runner for `backend` if it builds and agrees with eager torch within `atol`, else eager.

    Returns (runner, note): note is '' when `backend` is used, else why eager replaced it.
    """
    if backend not in BACKENDS:
        raise ValueError(f'inference backend {backend!r} is not one of {", ".join(BACKENDS)}')
    if backend == 'eager':
        return compile_actor(policy, 'eager'), ''
    try:
        runner = compile_actor(policy, backend, threads)
        error = max_difference(policy, runner)
    except Exception as exc:  # noqa: BLE001 - any failure to build a backend means: use eager
        return compile_actor(policy, 'eager'), f'{backend} unavailable ({type(exc).__name__}: {exc}); using eager'
    if not error <= atol:
        return compile_actor(policy, 'eager'), f'{backend} differs from eager by {error:.3g} > {atol}; using eager'
    return runner, ''


def backend_names(names: Sequence[str]) -> list[str]:
    """Validate a list of backend names (for command lines)."""
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise ValueError(f'unknown inference backends {unknown}; choose from {", ".join(BACKENDS)}')
    return list(names)
