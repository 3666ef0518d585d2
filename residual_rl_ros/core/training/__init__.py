"""In-process ResFiT training: episode rules (`rollout`), the run schedule (`loop`), run config and
recipe presets (`config`), and the demos -> BC -> ONNX base-policy pipeline (`pipeline`)."""
