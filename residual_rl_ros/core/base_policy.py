"""Load a frozen base policy from a TorchScript file, an ONNX file or a Python entry point.

Every loader returns an object that satisfies `types.BasePolicy`: `reset()`, `chunk_length` and
`act(observation) -> (chunk_length, A)` float32 actions in robot units.

Exported model contract (version 1)
-----------------------------------
The exported model does its own input standardization and action scaling: it takes robot units and
returns robot units. Batch size is 1 (a dynamic batch axis is allowed).

Inputs (ONNX binds them by name; TorchScript `forward` takes them positionally in this order):
  ``proprio``            float32 (1, P)
  ``task_state``         float32 (1, S)              S may be 0
  images, optional, either stacked or one input per camera:
  ``images``             uint8   (1, C, H, W, 3)     RGB, cameras in ``camera_names`` order
  ``image_<camera>``     uint8   (1, H, W, 3)        RGB, one per camera (TorchScript: in
                                                      ``camera_names`` order)
Output (the first output): ``actions`` float32 (1, K, A), robot units, K = chunk length.

Metadata (recommended; required where it cannot be read off the file) is one JSON object stored under
`METADATA_KEY`: in ONNX ``metadata_props``, in TorchScript as the extra file ``METADATA_KEY + '.json'``.
Keys (all optional): version, chunk_length, action_dim, proprio_dim, task_state_dim, camera_names,
image_layout ('stacked' | 'per_camera'), image_shape [H, W]. Keyword arguments to `load_base_policy`
override the stored values. When the input shapes are known the loader runs the model once on zeros
and checks the output shape, so a mismatched file fails at load time, not at the first control tick.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from residual_rl_ros.core.types import BasePolicy, Observation

METADATA_KEY = 'residual_rl_ros'
PROPRIO_INPUT = 'proprio'
TASK_STATE_INPUT = 'task_state'
IMAGES_INPUT = 'images'
CAMERA_INPUT_PREFIX = 'image_'
ACTIONS_OUTPUT = 'actions'
TORCHSCRIPT_SUFFIXES = ('.pt', '.ts')
ONNX_SUFFIXES = ('.onnx',)
_ENTRY_POINT = re.compile(r'^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$')


@dataclasses.dataclass
class ModelMetadata:
    """What a caller needs to know about an exported model; None means 'not known yet'."""

    chunk_length: int | None = None
    action_dim: int | None = None
    proprio_dim: int | None = None
    task_state_dim: int | None = None
    camera_names: list[str] = dataclasses.field(default_factory=list)
    image_layout: str = 'stacked'
    image_shape: list[int] | None = None     # [H, W]
    version: int = 1

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], source: str) -> ModelMetadata:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'{source}: unknown base-policy metadata key(s) {unknown}; known: {sorted(known)}')
        meta = cls(**values)
        if meta.version != 1:
            raise ValueError(f'{source}: unsupported base-policy metadata version {meta.version} (expected 1)')
        if meta.image_layout not in ('stacked', 'per_camera'):
            raise ValueError(f"{source}: image_layout={meta.image_layout!r} is not 'stacked' or 'per_camera'")
        meta.camera_names = list(meta.camera_names)
        return meta


class ExportedPolicy:
    """A BasePolicy around a model callable that follows the exported model contract."""

    def __init__(self, run: Callable[[list[np.ndarray]], np.ndarray], meta: ModelMetadata, source: str):
        self._run = run
        self.metadata = meta
        self.source = source
        if meta.proprio_dim is not None and meta.task_state_dim is not None and (
                not meta.camera_names or meta.image_shape is not None):
            self._probe()
        if meta.chunk_length is None:
            raise ValueError(f'{source}: chunk length unknown; store it in the {METADATA_KEY!r} metadata, '
                             'give the output a static shape, or pass chunk_length=')
        self.chunk_length: int = int(meta.chunk_length)

    @property
    def action_dim(self) -> int | None:
        return self.metadata.action_dim

    def reset(self) -> None:
        """Stateless model: nothing to reset."""

    def act(self, observation: Observation) -> np.ndarray:
        """One forward pass; returns a (chunk_length, A) float32 chunk in robot units."""
        return self._check_output(self._run(self._inputs(observation)))[0]

    def _inputs(self, observation: Observation) -> list[np.ndarray]:
        meta = self.metadata
        proprio = _row(observation.proprio, meta.proprio_dim, 'proprio', self.source)
        task_state = _row(observation.task_state, meta.task_state_dim, 'task_state', self.source)
        images = [self._image(observation, name) for name in meta.camera_names]
        if not images:
            return [proprio, task_state]
        if meta.image_layout == 'stacked':
            return [proprio, task_state, np.stack(images)[None]]
        return [proprio, task_state] + [image[None] for image in images]

    def _image(self, observation: Observation, camera: str) -> np.ndarray:
        if camera not in observation.images:
            raise ValueError(f'{self.source}: observation has no image from camera {camera!r} '
                             f'(has {sorted(observation.images)})')
        image = np.asarray(observation.images[camera])
        expected = None if self.metadata.image_shape is None else tuple(self.metadata.image_shape) + (3,)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or (
                expected is not None and image.shape != expected):
            raise ValueError(f'{self.source}: camera {camera!r} image is {image.dtype} {image.shape}, '
                             f'expected uint8 {expected or "(H, W, 3)"}')
        return np.ascontiguousarray(image)

    def _check_output(self, out: np.ndarray) -> np.ndarray:
        meta = self.metadata
        out = np.asarray(out)
        expected = (1, meta.chunk_length or 'K', meta.action_dim or 'A')
        if out.ndim != 3 or out.shape[0] != 1 or (meta.chunk_length is not None and out.shape[1] !=
                                                  meta.chunk_length) or (
                meta.action_dim is not None and out.shape[2] != meta.action_dim):
            raise ValueError(f'{self.source}: model output has shape {out.shape}, expected {expected}')
        return out.astype(np.float32, copy=False)

    def _probe(self) -> None:
        """Run once on zeros, learn chunk length / action dim if missing and check the output shape."""
        meta = self.metadata
        images = {name: np.zeros(tuple(meta.image_shape or ()) + (3,), np.uint8) for name in meta.camera_names}
        obs = Observation(np.zeros(meta.proprio_dim or 0, np.float32),
                          np.zeros(meta.task_state_dim or 0, np.float32), images)
        try:
            out = np.asarray(self._run(self._inputs(obs)))
        except Exception as exc:  # noqa: BLE001 - any runtime error here means a contract mismatch
            raise ValueError(f'{self.source}: model rejects inputs of the declared shapes '
                             f'(proprio {meta.proprio_dim}, task_state {meta.task_state_dim}, '
                             f'cameras {meta.camera_names}): {exc}') from exc
        if out.ndim == 3 and out.shape[0] == 1:
            meta.chunk_length = meta.chunk_length or int(out.shape[1])
            meta.action_dim = meta.action_dim or int(out.shape[2])
        self._check_output(out)


class CheckedPolicy:
    """Wraps a Python BasePolicy and checks each chunk it returns (shape, dtype, finite)."""

    def __init__(self, policy: BasePolicy, source: str):
        self.policy = policy
        self.source = source
        self.action_dim: int | None = getattr(policy, 'action_dim', None)

    @property
    def chunk_length(self) -> int:
        return int(self.policy.chunk_length)

    def reset(self) -> None:
        self.policy.reset()

    def act(self, observation: Observation) -> np.ndarray:
        chunk = np.asarray(self.policy.act(observation), dtype=np.float32)
        if chunk.ndim != 2 or chunk.shape[0] != self.chunk_length or (
                self.action_dim is not None and chunk.shape[1] != self.action_dim):
            raise ValueError(f'{self.source}: act() returned shape {chunk.shape}, expected '
                             f'({self.chunk_length}, {self.action_dim or "A"})')
        self.action_dim = chunk.shape[1]
        return chunk


def load_base_policy(spec: str, **kwargs: Any) -> BasePolicy:
    """Load a base policy from `spec`.

    `spec` is a path ending in .pt/.ts (TorchScript), .onnx (ONNX Runtime, CPU) or a Python entry point
    'package.module:factory'. For entry points `kwargs` go to `factory(**kwargs)`; for files they
    override `ModelMetadata` fields (e.g. chunk_length=8, camera_names=['wrist']).
    """
    spec = str(spec)
    suffix = Path(spec).suffix.lower()
    if suffix in TORCHSCRIPT_SUFFIXES + ONNX_SUFFIXES:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f'base policy file {spec!r} does not exist')
        loader = _load_torchscript if suffix in TORCHSCRIPT_SUFFIXES else _load_onnx
        return loader(path, kwargs)
    if _ENTRY_POINT.match(spec):
        return _load_entry_point(spec, kwargs)
    raise ValueError(f'base policy spec {spec!r} is not a TorchScript file ({"/".join(TORCHSCRIPT_SUFFIXES)}), '
                     f'an ONNX file (.onnx) or a Python entry point "package.module:factory"')


def _row(values: Any, dim: int | None, name: str, source: str) -> np.ndarray:
    row = np.asarray(values, dtype=np.float32).reshape(1, -1)
    if dim is not None and row.shape[1] != dim:
        raise ValueError(f'{source}: observation {name} has {row.shape[1]} values, the model expects {dim}')
    return row


def _parse_metadata(raw: str | bytes, source: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{source}: {METADATA_KEY!r} metadata is not valid JSON ({exc})') from exc
    if not isinstance(values, dict):
        raise ValueError(f'{source}: {METADATA_KEY!r} metadata is not a JSON object')
    return values


def _merge(stored: dict[str, Any], overrides: dict[str, Any], source: str) -> ModelMetadata:
    return ModelMetadata.from_mapping({**stored, **overrides}, source)


def _load_torchscript(path: Path, overrides: dict[str, Any]) -> ExportedPolicy:
    import torch
    extra = {METADATA_KEY + '.json': ''}
    try:
        with warnings.catch_warnings():   # TorchScript is deprecated in torch 2.x but still the format asked for
            warnings.simplefilter('ignore', DeprecationWarning)
            module = torch.jit.load(str(path), map_location='cpu', _extra_files=extra)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/ValueError/... on bad files
        raise ValueError(f'{path}: not a loadable TorchScript file ({exc})') from exc
    module.eval()
    raw = extra[METADATA_KEY + '.json']
    stored = _parse_metadata(raw, str(path))
    if 'chunk_length' not in stored and hasattr(module, 'chunk_length'):
        stored['chunk_length'] = int(module.chunk_length)
    meta = _merge(stored, overrides, str(path))

    def run(arrays: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            out = module(*[torch.from_numpy(a) for a in arrays])
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.detach().cpu().numpy()

    return ExportedPolicy(run, meta, str(path))


def _load_onnx(path: Path, overrides: dict[str, Any]) -> ExportedPolicy:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ValueError(f'{path}: not a loadable ONNX file ({exc})') from exc
    source = str(path)
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, '')
    stored = {**_parse_metadata(raw, source), **overrides}
    inputs = {i.name: i for i in session.get_inputs()}
    stored.update(_onnx_input_metadata(inputs, stored, source))
    outputs = session.get_outputs()
    out_shape = outputs[0].shape
    if len(out_shape) != 3:
        raise ValueError(f'{source}: output {outputs[0].name!r} has shape {out_shape}, expected (1, K, A)')
    for key, dim in (('chunk_length', out_shape[1]), ('action_dim', out_shape[2])):
        if isinstance(dim, int) and dim > 0:
            stored.setdefault(key, dim)
    meta = _merge(stored, overrides, source)
    names = [PROPRIO_INPUT, TASK_STATE_INPUT]
    if meta.camera_names:
        names += ([IMAGES_INPUT] if meta.image_layout == 'stacked'
                  else [CAMERA_INPUT_PREFIX + name for name in meta.camera_names])
    if set(names) != set(inputs):
        raise ValueError(f'{source}: model inputs {sorted(inputs)} do not match the expected {names}')
    output_name = outputs[0].name

    def run(arrays: list[np.ndarray]) -> np.ndarray:
        return session.run([output_name], dict(zip(names, arrays)))[0]

    return ExportedPolicy(run, meta, source)


def _onnx_input_metadata(inputs: dict[str, Any], stored: dict[str, Any], source: str) -> dict[str, Any]:
    """Check ONNX input names, dtypes and ranks; read static dims into metadata fields."""
    found: dict[str, Any] = {}
    for name in (PROPRIO_INPUT, TASK_STATE_INPUT):
        if name not in inputs:
            raise ValueError(f'{source}: model has no {name!r} input (inputs: {sorted(inputs)})')
        _check_onnx_input(inputs[name], 'tensor(float)', 2, source)
        dim = inputs[name].shape[1]
        if isinstance(dim, int):
            found[f'{name}_dim'] = dim
    cameras = sorted(n[len(CAMERA_INPUT_PREFIX):] for n in inputs if n.startswith(CAMERA_INPUT_PREFIX))
    if IMAGES_INPUT in inputs:
        shape = _check_onnx_input(inputs[IMAGES_INPUT], 'tensor(uint8)', 5, source)
        if not stored.get('camera_names'):
            raise ValueError(f'{source}: stacked {IMAGES_INPUT!r} input needs camera_names (metadata or kwarg)')
        found['image_layout'] = 'stacked'
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            found['image_shape'] = [shape[2], shape[3]]
    elif cameras:
        found['image_layout'] = 'per_camera'
        found['camera_names'] = [c for c in stored.get('camera_names', []) if c in cameras] or cameras
        shape = _check_onnx_input(inputs[CAMERA_INPUT_PREFIX + cameras[0]], 'tensor(uint8)', 4, source)
        if isinstance(shape[1], int) and isinstance(shape[2], int):
            found['image_shape'] = [shape[1], shape[2]]
    return found


def _check_onnx_input(arg: Any, dtype: str, rank: int, source: str) -> Sequence[Any]:
    shape = arg.shape
    if arg.type != dtype or len(shape) != rank or (isinstance(shape[0], int) and shape[0] != 1) or (
            rank >= 4 and isinstance(shape[-1], int) and shape[-1] != 3):
        raise ValueError(f'{source}: input {arg.name!r} is {arg.type} {shape}, expected {dtype} of rank {rank} '
                         'with batch 1 (images: trailing 3 RGB channels)')
    return shape


def _load_entry_point(spec: str, kwargs: dict[str, Any]) -> CheckedPolicy:
    module_name, _, attr = spec.partition(':')
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f'base policy entry point {spec!r}: cannot import {module_name!r} ({exc})') from exc
    for part in attr.split('.'):
        if not hasattr(target, part):
            raise ValueError(f'base policy entry point {spec!r}: {module_name!r} has no attribute {attr!r}')
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f'base policy entry point {spec!r} is not callable')
    policy = target(**kwargs)
    if not isinstance(policy, BasePolicy):
        raise ValueError(f'base policy entry point {spec!r} returned {type(policy).__name__}, which lacks '
                         'the BasePolicy interface (chunk_length, reset(), act(observation))')
    length = getattr(policy, 'chunk_length')
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f'base policy entry point {spec!r}: chunk_length={length!r}, expected an int >= 1')
    return CheckedPolicy(policy, spec)
