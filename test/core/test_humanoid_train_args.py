"""The main job's defaults per task are the settings of the measured live runs; explicit options win."""
from residual_rl_ros.apps.humanoid_train import TASK_DEFAULTS, parse_args


def test_the_humanoid_run_defaults_to_its_measured_settings() -> None:
    args = parse_args([])
    assert args.task == 'humanoid_gr1'
    assert {k: getattr(args, k) for k in TASK_DEFAULTS['humanoid_gr1']} == TASK_DEFAULTS['humanoid_gr1']
    assert (args.demos, args.demo_noise, args.warmup_env_steps) == (12, 0.4, 3000)


def test_explicit_options_win_and_other_tasks_fall_back_to_the_config() -> None:
    args = parse_args(['--task', 'fetch_pick_place', '--demos', '7', '--warmup-env-steps', '0'])
    assert (args.demos, args.warmup_env_steps, args.demo_noise, args.eval_every) == (7, 0, 0.3, 4)
    other = parse_args(['--task', 'adroit_relocate'])
    assert other.warmup_env_steps is None and other.eval_every is None     # config/humanoid_train.yaml decides
