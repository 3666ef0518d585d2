"""Export a BCPolicy to ONNX or TorchScript in the contract of `core.base_policy`, verified after writing."""
from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from residual_rl_ros.core.base_policy import (ACTIONS_OUTPUT, IMAGES_INPUT, METADATA_KEY, PROPRIO_INPUT,
                                              TASK_STATE_INPUT, ExportedPolicy, ModelMetadata)
from residual_rl_ros.core.bc.models import BCPolicy

ONNX_OPSET = 17


def example_inputs(model: BCPolicy, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random robot-unit inputs around the model's training statistics (for tracing and checks)."""
    meta = model.metadata
    gen = torch.Generator().manual_seed(seed)
    proprio = model.proprio_mean + model.proprio_std * torch.randn(batch, meta.proprio_dim or 0, generator=gen)
    task = model.task_state_mean + model.task_state_std * torch.randn(batch, meta.task_state_dim or 0,
                                                                      generator=gen)
    inputs: tuple[torch.Tensor, ...] = (proprio, task)
    if meta.camera_names:
        h, w = meta.image_shape or (0, 0)
        inputs += (torch.randint(0, 256, (batch, len(meta.camera_names), h, w, 3), generator=gen,
                                 dtype=torch.uint8),)
    return inputs


def as_base_policy(model: BCPolicy) -> ExportedPolicy:
    """The in-memory model as a BasePolicy (same contract and checks as a loaded file, no export)."""
    model = model.eval()

    def run(arrays: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return model(*[torch.from_numpy(a) for a in arrays]).numpy()

    return ExportedPolicy(run, _metadata(model), f'in-memory {type(model).__name__}')


def export_onnx(model: BCPolicy, path: str | os.PathLike, *, verify: bool = True, atol: float = 1e-4,
                rtol: float = 1e-4) -> Path:
    """Write `model` as ONNX (batch axis dynamic, metadata stored) and check onnxruntime matches torch."""
    import onnx
    path = Path(path)
    model = model.eval()
    inputs = example_inputs(model)
    names = [PROPRIO_INPUT, TASK_STATE_INPUT] + ([IMAGES_INPUT] if len(inputs) == 3 else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        raw = Path(tmp) / 'model.onnx'
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)     # the TorchScript-based exporter, on purpose
            torch.onnx.export(model, inputs, str(raw), input_names=names, output_names=[ACTIONS_OUTPUT],
                              dynamic_axes={n: {0: 'batch'} for n in names + [ACTIONS_OUTPUT]},
                              opset_version=ONNX_OPSET, dynamo=False)
        proto = onnx.load(str(raw))
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, _metadata(model).to_json()
        onnx.checker.check_model(proto)
        staged = Path(tmp) / path.name
        onnx.save(proto, str(staged))
        if verify:
            _verify_onnx(model, staged, atol, rtol)
        os.replace(staged, path)
    return path


def export_torchscript(model: BCPolicy, path: str | os.PathLike, *, verify: bool = True,
                       atol: float = 1e-5, rtol: float = 1e-5) -> Path:
    """Write `model` as a traced TorchScript module with the metadata as an extra file."""
    path = Path(path)
    model = model.eval()
    inputs = example_inputs(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings(), tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        warnings.simplefilter('ignore', DeprecationWarning)        # TorchScript is deprecated, still supported
        traced = torch.jit.trace(model, inputs, check_trace=False)
        staged = Path(tmp) / path.name
        torch.jit.save(traced, str(staged), _extra_files={METADATA_KEY + '.json': _metadata(model).to_json()})
        if verify:
            loaded = torch.jit.load(str(staged), map_location='cpu')
            check = example_inputs(model, batch=3, seed=1)
            _compare(model(*check).numpy(), loaded(*check).numpy(), atol, rtol, 'TorchScript')
        os.replace(staged, path)
    return path


def _metadata(model: BCPolicy) -> ModelMetadata:
    return dataclasses.replace(model.metadata, chunk_length=model.chunk_length, image_layout='stacked',
                               camera_names=list(model.metadata.camera_names))


def _verify_onnx(model: BCPolicy, path: Path, atol: float, rtol: float) -> None:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    for batch, seed in ((1, 1), (3, 2)):
        check = example_inputs(model, batch=batch, seed=seed)
        with torch.no_grad():
            expected = model(*check).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(names, check)})[0]
        _compare(expected, got, atol, rtol, 'ONNX')


def _compare(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float, what: str) -> None:
    if expected.shape != got.shape or not np.allclose(got, expected, atol=atol, rtol=rtol):
        diff = np.abs(got - expected).max() if expected.shape == got.shape else float('nan')
        raise RuntimeError(f'{what} export does not match torch: shapes {got.shape} vs {expected.shape}, '
                           f'max |diff| {diff:.3g} (atol {atol}, rtol {rtol})')
