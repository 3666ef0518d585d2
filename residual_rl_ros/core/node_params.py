"""Parameters of every node, as dataclasses: the one source for ROS parameter declarations and YAML.

Units are in the names (`_hz`, `_s`). Each class documents one node; config/*.yaml files are keyed by
node name and hold `ros__parameters` for these fields only (unknown keys are rejected).
"""
from __future__ import annotations

import dataclasses

from residual_rl_ros.core.config_fields import param
from residual_rl_ros.core.training.config import PRESETS

TASKS = ('humanoid_gr1', 'fetch_pick_place', 'adroit_relocate')


@dataclasses.dataclass
class RewardButtonParams:
    """reward_button: the episode authority. Operator Start / Success / Failure / Abort as services and
    events; in simulation (`auto_label`) it also turns the simulator's reports into labels and resets."""

    source: str = param('operator', 'Source stamped on operator events', choices=('operator', 'auto', 'sim'))
    first_episode_id: int = param(1, 'Id given to the first episode of this run', low=1, high=2**31 - 1)
    auto_label: bool = param(False, 'Label episodes from sim_robot/episode_reports and reset automatically')
    auto_start: bool = param(False, 'Start the next episode automatically after each reset')
    wait_for_trainer: bool = param(False, 'auto_label: start the first episode only once trainer_status is '
                                   'heard (no step is lost to a trainer that is still loading)')
    wait_for_trainer_updates: bool = param(False, 'auto_start: start the next episode only once trainer_status '
                                           'reports no owed updates (simulation: the recipe\'s full UTD is paid '
                                           'whatever the CPU speed; a real robot waits during its reset instead)')
    eval_every_episodes: int = param(0, 'auto_start: every Nth episode is an evaluation episode (no exploration; '
                                     'its outcome measures the policy); 0 = none', low=0, high=1_000_000)
    max_episodes: int = param(0, 'Stop (exit 0) after this many labelled episodes (0 = never)',
                              low=0, high=2**31 - 1)
    label_window_s: float = param(3.0, 'Late labels and undo are accepted this long after an episode\'s last '
                                  'change (keep it below the trainer\'s relabel_window_s)', low=0.0, high=3600.0)
    reset_duration_s: float = param(0.0, 'Without auto_label: after an episode ends, RESET is published and '
                                    'Start refused for this long (safety_limit drives its reset_pose)',
                                    low=0.0, high=3600.0)


@dataclasses.dataclass
class OperatorUiParams:
    """operator_ui: the operator's web page (buttons, live curves) and joystick buttons, as episode requests."""

    host: str = param('127.0.0.1', 'Address the page is served on (127.0.0.1 = this machine only)')
    port: int = param(8765, 'TCP port of the page (0 = any free port, logged at start)', low=0, high=65535)
    success_window: int = param(20, 'Success and intervention rates over this many recent episodes',
                                low=1, high=10_000)
    joy_buttons: list[str] = param([], 'sensor_msgs/Joy buttons on `joy` as "index:action" (actions: start, '
                                   'success, failure, abort, undo, estop, pause, resume); empty = no joystick')
    reward_button: str = param('reward_button', 'Episode authority node (its ~/label service)')
    trainer: str = param('trainer', 'Trainer node (its paused parameter)')
    residual_policy: str = param('residual_policy', 'Residual node (its pinned_version parameter)')
    safety_limit: str = param('safety_limit', 'Safety node (its ~/reset_estop service)')


@dataclasses.dataclass
class SimRobotParams:
    """sim_robot: a bundled MuJoCo task driven like hardware over ROS topics."""

    task: str = param('humanoid_gr1', 'Simulated task to run', choices=TASKS)
    image: bool = param(False, 'Render and publish the task cameras')
    seed: int = param(0, 'Seed of the first episode (episode k uses seed + k)', low=0, high=2**31 - 1)
    physics_mode: str = param('lockstep', 'lockstep: one physics step per executed action record answering '
                              'the latest published state (as fast as the graph runs; holds and late answers '
                              'do not step); realtime: step at the task rate with the latest command',
                              choices=('lockstep', 'realtime'))
    command_timeout_s: float = param(0.5, 'realtime: hold the last command when none is newer than this; '
                                     'lockstep: republish the state when no answer came for this long',
                                     low=0.001, high=60.0)
    camera_encoding: str = param('rgb8', 'Encoding of published camera images', choices=('rgb8', 'bgr8'))


@dataclasses.dataclass
class IngestionParams:
    """ingestion: synchronizes joint states, task state and cameras into one Observation."""

    joint_names: list[str] = param([], 'Joints taken from sensor_msgs/JointState, in this order (by name); '
                                   'empty = every joint, in the order of the first message')
    use_velocity: bool = param(False, 'Also take joint velocities into the proprioception vector')
    task_state_dim: int = param(0, 'Length of the task_state vector (sensor_msgs/JointState of named '
                                'virtual joints: object and goal state; 0 = no task_state topic)',
                                low=0, high=100_000)
    camera_names: list[str] = param([], 'Cameras, each on cameras/<name>/image_raw')
    image_size_px: int = param(84, 'Square size images are resized to', low=8, high=1024)
    max_joint_state_age_s: float = param(0.2, 'Older joint states are stale (observation not published)',
                                         low=0.001, high=60.0)
    max_image_age_s: float = param(0.5, 'Older camera images are stale', low=0.001, high=60.0)
    sync_tolerance_s: float = param(0.0, 'A tick uses sensor samples stamped at most this much before it '
                                    '(0 = same step, as the simulator stamps them)', low=0.0, high=10.0)
    max_sync_wait_s: float = param(0.05, 'Longest wait for the other sensors of a tick before publishing it '
                                   'with those sensors marked stale', low=0.0, high=10.0)
    max_rate_hz: float = param(100.0, 'At most this many observations per second (one per new joint state)',
                               low=0.1, high=10_000.0)


@dataclasses.dataclass
class BasePolicyParams:
    """base_policy: runs the frozen BC policy's action chunks, one step per observation."""

    policy: str = param('', 'Base policy: a .onnx / .pt file or a Python entry point module:factory '
                        '(empty = <run_dir>/bc.onnx, the demo pipeline output)')
    run_dir: str = param('runs/latest', 'Run folder (default policy location)')
    joint_names: list[str] = param([], 'Names of the action dimensions, in the policy output order')
    temporal_ensembling: bool = param(False, 'ACT-style temporal ensembling of overlapping chunks')


@dataclasses.dataclass
class ResidualPolicyParams:
    """residual_policy: base + bounded residual at control rate; proposes commands to safety_limit."""

    run_dir: str = param('runs/latest', 'Run folder (normalizers and initial weights come from here)')
    explore: bool = param(True, 'Add exploration noise (training); false = deterministic (evaluation)')
    weights_file: str = param('', 'Actor weights to start from (empty = zero residual until weights arrive)')
    control_rate_hz: float = param(20.0, 'Expected control rate, for timing statistics', low=0.1, high=10_000.0)
    timing_report_period_s: float = param(10.0, 'Period of the timing log line (0 = off)', low=0.0, high=3600.0)
    max_weights_bytes: int = param(256 * 2**20, 'Reject weight messages larger than this', low=1, high=2**34)
    keep_weight_versions: int = param(5, 'Weight versions kept in memory for pin / rollback', low=1, high=1000)
    pinned_version: int = param(0, 'Run this kept weight version and ignore newer ones (0 = follow the '
                                'latest); settable at run time', low=0, high=2**31 - 1)
    inference_backend: str = param('onnxruntime', 'Residual inference backend (bench/inference_backends.py); '
                                   'each weight version is checked against eager torch, eager when it fails',
                                   choices=('eager', 'inference_mode', 'torchscript', 'onnxruntime'))
    inference_threads: int = param(1, 'Intra-op threads of torch and ONNX Runtime in this node', low=1, high=64)


@dataclasses.dataclass
class SafetyLimitParams:
    """safety_limit: clamps proposals to joint limits, holds on stale or bad input, latches e-stop."""

    joint_names: list[str] = param([], 'Command joint order sent to the robot (limits matched by name)')
    limits_file: str = param('', 'YAML with a joint_limits mapping (ros2_control schema); empty = params')
    command_timeout_s: float = param(0.2, 'Hold the previous command when no proposal is newer than this',
                                     low=0.001, high=60.0)
    watchdog_rate_hz: float = param(50.0, 'Rate of the timeout check', low=1.0, high=10_000.0)
    teleop_timeout_s: float = param(0.5, 'Interventions: teleop/enable (deadman, re-sent while held) and '
                                    'teleop/commands expire after this long', low=0.001, high=60.0)
    reset_pose: list[float] = param([], 'Joint targets (joint_names order) driven within the limits while '
                                    'the episode authority resets (RESET until START); empty = off')
    base_timeout_s: float = param(0.5, 'Watchdog: base_action silent this long is an ERROR diagnostic (the '
                                  'residual proposes nothing, so the command timeout holds)', low=0.001, high=60.0)
    trainer_warn_after_s: float = param(10.0, 'Watchdog: trainer_status silent, or its env steps frozen, this long '
                                        'while episodes run is a WARN diagnostic (the residual keeps its weights)',
                                        low=0.1, high=3600.0)
    trainer_error_after_s: float = param(30.0, 'Watchdog: ... this long is an ERROR diagnostic', low=0.1,
                                         high=3600.0)
    workspace_fk: str = param('', 'Optional workspace box: the task\'s forward kinematics as module:function '
                              '(command vector in joint_names order -> points (3,) or (k, 3), metres); empty = off')
    workspace_min_m: list[float] = param([], 'Workspace box lower corner x, y, z (metres, the FK frame)')
    workspace_max_m: list[float] = param([], 'Workspace box upper corner x, y, z (metres, the FK frame)')


@dataclasses.dataclass
class TrainerParams:
    """trainer: assembles transitions from the graph's topics, trains the residual, publishes weights."""

    run_dir: str = param('runs/latest', 'Run folder: checkpoints, replay, report')
    recipe_preset: str = param('cpu', 'Starting recipe: paper (released ResFiT sizes), cpu (fits a 2-core '
                               'robot computer), cpu_state / cpu_image (faster CPU sizes), tiny (tests)',
                               choices=PRESETS)
    recipe_file: str = param('', 'YAML of ResidualRecipe overrides applied on top of the preset')
    base_policy: str = param('', 'Base policy used to relabel the demos (empty = <run_dir>/bc.onnx)')
    warmup_env_steps: int = param(2000, 'Env steps of base + uniform noise before any update (paper: 10k)',
                                  low=0, high=100_000_000)
    seed: int = param(0, 'Learner seed', low=0, high=2**31 - 1)
    torch_threads: int = param(1, 'torch CPU threads for learning (0 = torch default: all cores)', low=0,
                               high=1024)
    camera_names: list[str] = param([], 'Cameras in the observations, in order (must match the demos)')
    max_episode_steps: int = param(150, 'Episode time limit, to tell a demo that timed out from one that failed',
                                   low=1, high=10_000_000)
    demos_file: str = param('', 'Demonstration episodes (.npz) for the demo buffer (empty = run_dir/demos.npz)')
    publish_weights_every_updates: int = param(500, 'Publish actor weights after this many actor updates',
                                               low=1, high=10_000_000)
    checkpoint_every_env_steps: int = param(5000, 'Write a checkpoint every this many env steps',
                                            low=1, high=100_000_000)
    max_env_steps: int = param(0, 'Stop (exit 0) after this many env steps (0 = never)', low=0, high=2**40)
    status_period_s: float = param(2.0, 'Period of the trainer status message', low=0.05, high=3600.0)
    relabel_window_s: float = param(4.0, 'An ended episode stays open this long for late labels and undo '
                                    '(keep it above reward_button.label_window_s)', low=0.0, high=3600.0)
    paused: bool = param(False, 'Pause updates (transitions are still stored); settable at run time')
    max_update_backlog_env_steps: int = param(2000, 'At most this many env steps\' updates are owed; steps beyond '
                                              'it are stored but their updates skipped (a learner slower than the '
                                              'robot falls behind boundedly)', low=1, high=100_000_000)
    backfill_bags: str = param('bags', 'On start, store the transitions recorded in this folder (relative to '
                               'run_dir) that the checkpoint lacks: nothing recorded is lost to a crash '
                               "(empty = off)")


RECORDED_TOPICS = ['observation', 'action_records', 'episode_events', 'policy_weights', 'trainer_status']


@dataclasses.dataclass
class RecorderParams:
    """recorder: writes the topics that rebuild transitions to rosbag2 (raw bytes, flushed splits)."""

    run_dir: str = param('runs/latest', 'Run folder; bags go to <run_dir>/bags unless output_dir is set')
    output_dir: str = param('', 'Folder for the bags (empty = <run_dir>/bags)')
    storage: str = param('mcap', 'rosbag2 storage of the bags', choices=('mcap', 'sqlite3'))
    topics: list[str] = param(list(RECORDED_TOPICS), 'Our topics to record (relative names; types are known)')
    extra_topics: list[str] = param([], "More topics as 'name:package/msg/Type', e.g. raw sensors "
                                    "'joint_states:sensor_msgs/msg/JointState'")
    prefix: str = param('', 'Name of this recording; splits are <prefix>_NNNN (empty = rec_<UTC time>)')
    split_size_mib: int = param(256, 'Close a split (bag folder) at this size', low=1, high=1_000_000)
    split_duration_s: float = param(600.0, 'Close a split after this much recorded time', low=1.0, high=1e7)
    flush_period_s: float = param(1.0, 'Make the open split readable this often: a crash loses at most the '
                                  'messages of this period', low=0.05, high=3600.0)


@dataclasses.dataclass
class BagPlayerParams:
    """bag_player: republishes recorded bags on the graph from their raw bytes, with their timing."""

    bags: list[str] = param([], 'Bag folders, folders of bags or .mcap/.db3 files to play, merged by time')
    rate: float = param(1.0, 'Playback speed factor (2.0 = twice as fast)', low=0.01, high=1000.0)
    topics: list[str] = param([], 'Play only these topics (recorded names; empty = all)')
    loop: bool = param(False, 'Start again at the end')
    start_delay_s: float = param(0.5, 'Wait this long after start-up (discovery) before the first message',
                                 low=0.0, high=3600.0)
