"""Structured configs stored in Hydra's ConfigStore, and our config search path.

Our YAML configs live in ``configs/habitat/`` at the repository root; they
compose habitat-lab's and habitat-baselines' structured configs with the nodes
defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from habitat.config.default_structured_configs import LabSensorConfig, SimulatorSensorConfig
from habitat_baselines.config.default_structured_configs import VectorEnvFactoryConfig
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "habitat"


@dataclass
class MiniGridVectorEnvFactoryConfig(VectorEnvFactoryConfig):
    """Arguments of :class:`MiniGridVectorEnvFactory`."""

    _target_: str = "habitat_llm4teach.envs.minigrid.factory.MiniGridVectorEnvFactory"
    # A paper task (SimpleDoorKey, LavaDoorKey, ColoredDoorKey, TwoDoor) or any registered MiniGrid id.
    task: str = "SimpleDoorKey"
    # "egocentric": the map of every cell seen this episode, cropped around the agent and rotated so it
    # faces up; "historical": the same map in world coordinates (the paper's view); "partial": MiniGrid's view.
    view: str = "egocentric"
    # Side of the square RGB image the ResNet sees.
    image_size: int = 64
    # Cells on a side of the egocentric crop (odd; the agent is in the centre).
    ego_window: int = 11
    # Episode length override; None keeps the task's own (150 for the paper tasks).
    max_steps: Optional[int] = None
    # "in_process": every env stepped in the trainer's process (no start-up, no hand-off; the fastest for MiniGrid);
    # "processes": habitat's worker processes, one per env.
    workers: str = "in_process"


@dataclass
class MiniGridSymbolicSensorConfig(SimulatorSensorConfig):
    """Declares the teacher-only symbolic observation so the policy can exclude it.

    Listed under ``habitat_baselines.eval.extra_sim_sensors``, the one place where
    habitat-baselines' ResNet policy drops observations from its input.
    """

    type: str = "MiniGridSymbolicSensor"
    uuid: str = "minigrid_symbolic"


@dataclass
class L4TSceneSensorConfig(LabSensorConfig):
    """The teacher-only ``l4t_scene`` vector of Habitat pick/place (envs/rearrange/adapter.py)."""

    type: str = "L4TSceneSensor"


DEFAULT_TEACHER_MODEL = "data/models/qwen2.5-coder-1.5b/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@dataclass
class TeacherServerConfig:
    """The teacher inference server (habitat_llm4teach/server/): one process per node owning the LLM and plan cache."""

    # False: every rank asks its own planner in process (teacher/source.py LocalPlanSource), blocking, instead.
    enabled: bool = True
    # tcp://host:port; "" = a free loopback port chosen by local rank 0 and shared with the node's other ranks.
    address: str = ""
    # True: local rank 0 starts the server (and restarts it); False: attach to a server already running at address.
    spawn: bool = True
    # Device of the server's LLM (e.g. "cuda:1", the last GPU); "" = llm4teach.teacher.device.
    device: str = ""
    # Torch threads of the server's forward passes when its LLM runs on the CPU. 0 = half the cores (at least 1):
    # the server shares the CPU with the trainer and its env workers, and a forward pass that splits across
    # threads stalls whenever one of them is descheduled (2-core machine, pick training with a cold plan cache:
    # 8.0 env steps/s with 1 thread, 3.8 with 2, although on an idle machine 2 threads score faster).
    cpu_threads: int = 0
    # Nice value (0-19) of the server process when its LLM runs on the CPU. 19: the server computes only on CPU time
    # training leaves idle. On the 2-core machine a 2-thread update ran 2.8x slower beside a busy process of equal
    # priority (each parallel region waits for its slower thread), and not at all slower beside one at nice 19;
    # new descriptions then wait longer for an answer (the steps unguided meanwhile, or waiting with blocking).
    cpu_nice: int = 19
    # Dynamic batching: run a backend call once max_batch new descriptions wait or the oldest waited max_wait_ms.
    max_batch: int = 32
    max_wait_ms: float = 20.0
    # New descriptions waiting beyond this are refused with a queue_full error (asked again later).
    max_queue: int = 4096
    # False (default): a step whose description has no answer yet is unguided; True: wait (paper replication).
    blocking: bool = False
    # A server silent this long (heartbeat) is declared hung or dead; a request unanswered this long is dropped.
    timeout_s: float = 60.0
    heartbeat_s: float = 1.0
    # How long a (re)started server may take to load its model and answer its first heartbeat.
    ready_timeout_s: float = 600.0
    # Restart back-off: first delay, doubled per consecutive failure up to restart_backoff_max_s.
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 60.0
    # Consecutive failed starts after which training goes on without a teacher (plain PPO).
    max_restarts: int = 5


@dataclass
class TeacherConfig:
    """The LLM teacher: model, planning mode and plan cache."""

    # Which teacher kind (teachers.py): "minigrid" (discrete actions) or "rearrange" (Habitat pick/place, continuous
    # actions); the config group llm4teach/teacher_kind sets it with the matching updaters and storage.
    env: str = "minigrid"
    # Hugging Face id (local cache only), model folder, or .gguf file (scripts/fetch_model.py).
    model: str = DEFAULT_TEACHER_MODEL
    # "auto": bfloat16 on a GPU (float16 where it lacks bfloat16) and on a CPU with bfloat16 units (AMX, AVX512-BF16);
    # on other CPUs, where emulated bfloat16 is 2.2x slower than float32, "int8" (float32 weights whose linear layers
    # are made int8 as they load, 2.3x faster than float32; float32 where torch lacks the int8 kernels); or
    # "bfloat16", "float16", "float32", "int8" (CPU only).
    dtype: str = "auto"
    # "auto": the last visible GPU, else the CPU (on every core during its forward passes); or e.g. "cuda:1", "cpu".
    device: str = "auto"
    # "score": rank every valid next skill by log-likelihood; "sample": the paper's sampled plans.
    mode: str = "score"
    # score mode: probabilities = softmax(score / sharpen_temperature); fitted on tests/data's labelled set.
    sharpen_temperature: float = 0.5
    length_norm: str = "mean"
    # sample mode
    num_samples: int = 10
    sample_temperature: float = 0.7
    # JSON plan cache (None: in memory only); read_only trains from a cache without any LLM.
    cache_path: Optional[str] = None
    cache_read_only: bool = False
    # MiniGrid: the goal the descriptions state. None: each env's own mission string, which its observation carries
    # ("open the door" on the paper's tasks, "pick up the purple ball" on KeyCorridor, ...); a string overrides it.
    mission: Optional[str] = None
    # Teacher acting on its own (teacher-only evaluation): argmax of its action distribution.
    greedy: bool = True
    # Evaluation videos (L4TResNetPolicy): write the teacher's plan and current skill onto the student's frames.
    plan_overlay: bool = False
    # Training: where the teacher's plans come from (the node's inference server by default, for every env).
    server: TeacherServerConfig = field(default_factory=TeacherServerConfig)
    # Training: append every description the teacher is asked (one JSON line per env step) to this file.
    trace_path: Optional[str] = None


@dataclass
class DistillConfig:
    """The distillation coefficient lambda: loss = PPO loss + lambda * CE(teacher -> student) on guided steps.

    One schedule (habitat_llm4teach/distill/schedules.py) reads the fields it names; the others are ignored.
    """

    # "paper", "linear", "exponential", "adaptive", or "none" (plain PPO through the same trainer, no teacher).
    schedule: str = "paper"
    # lambda at update 0 (all schedules).
    start: float = 10.0
    # lambda never goes below this while distillation is on (all schedules).
    floor: float = 0.1
    # paper, adaptive: lambda decrease per update.
    decay_per_update: float = 0.005
    # paper, adaptive: lambda = 0 from this many updates on; -1 = never.
    off_after: int = -1
    # linear: updates to go from start to floor.
    linear_updates: int = 2000
    # exponential: lambda = start * decay_rate ** updates.
    decay_rate: float = 0.995
    # adaptive: the teacher's measured success rate in [0, 1] (the *_teacher eval configs); required.
    teacher_success: Optional[float] = None
    # adaptive: the fade starts when the student's windowed success exceeds teacher_success + margin, in [-1, 1];
    # negative: once the student comes within -margin of the teacher (then reward alone must carry it past).
    margin: float = 0.05
    # adaptive: updates over which lambda fades to floor once the fade starts (0 and off only with floor 0).
    fade_updates: int = 100
    # Continuous actions (Habitat pick/place): "nll" (plan-weighted NLL of the teacher's actions) or
    # "kl" (KL from a Gaussian of width teacher_std around each teacher action); see distill/continuous.py.
    continuous_loss: str = "nll"
    teacher_std: float = 0.1


@dataclass
class StudentConfig:
    """What habitat's ResNet policy takes as an argument but does not read from habitat_baselines' config.

    The student's other sizes are habitat's own keys (habitat_baselines.rl.ddppo.backbone / rnn_type,
    rl.ppo.hidden_size); the config group minigrid/student sets them together.
    """

    # Channels of the ResNet's first stage (PointNavResNetPolicy's resnet_baseplanes; habitat's from_config uses 32).
    resnet_baseplanes: int = 32
    # Compute each 3x3 convolution that only ever sees a 1x1 feature map (for MiniGrid's 64 px image: ResNet18's last
    # stage and habitat's compression layer) as the 1x1 convolution of its centre tap: the same outputs and gradients up
    # to float rounding (the other taps only ever meet zero padding), a third of the parameters, ~2x faster updates
    # on a CPU (run as matrix products; on in MiniGrid's default student); training runs still diverge from habitat's
    # network (README). Checkpoints keep the shapes they were trained with: evaluate with the same setting.
    pointwise_on_1x1_maps: bool = False
    # Scale and 2x2-average-pool 8-bit images in one pass (distill/student.py's OnePassPoolingResNetEncoder) instead of
    # habitat's four passes over the full-size image: the same input up to float rounding, cheaper on a CPU.
    pool_images_in_one_pass: bool = False


@dataclass
class L4TRunConfig:
    """Where a run writes everything (checkpoints, tensorboard, videos, logs), the teacher and distillation."""

    run_dir: str = "data/runs/default"
    # The task's short name in run folder names (data/runs/minigrid/<task_name>_<arm>); the task config
    # group sets it (configs/habitat/minigrid/task/), so one config per arm serves every task.
    task_name: str = "default"
    # Stop training once the success over the last 100 training episodes reaches this (llm4teach trainer;
    # scripts/bench_sample_efficiency.py stops PPO at 0.9). -1: train for the whole budget.
    stop_at_success: float = -1.0
    # Torch threads of the student's forward passes during the rollout (updates keep torch's count: every core).
    # 0 = every core, but while a teacher server this node started computes this rank's queries on the same CPU,
    # the cores it leaves (cores - server.cpu_threads, at least 1): a forward pass split over more threads than
    # free cores stalls each time one of them is descheduled. Pick, 2 envs, 2 cores: the student's act took 58 ms a
    # step on 2 threads beside the server at nice 0, 18 ms on 1 thread (13 ms on 2 without a teacher); at nice 19,
    # 22-26 ms on 2 threads against 18-19 ms on 1 (training 17.9-18.0 vs 19.2-19.3 env steps/s). MiniGrid trains
    # as fast either way.
    rollout_cpu_threads: int = 0
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    student: StudentConfig = field(default_factory=StudentConfig)


class L4TConfigPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="habitat_llm4teach", path=f"file://{CONFIG_DIR}")


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(group="habitat_baselines/vector_env_factory", name="minigrid", node=MiniGridVectorEnvFactoryConfig)
    cs.store(group="habitat/simulator/sim_sensors", name="minigrid_symbolic_sensor", node=MiniGridSymbolicSensorConfig)
    cs.store(group="llm4teach", name="llm4teach_config_base", node=L4TRunConfig)
    cs.store(
        package="habitat.task.lab_sensors.l4t_scene_sensor", group="habitat/task/lab_sensors", name="l4t_scene_sensor",
        node=L4TSceneSensorConfig,
    )
