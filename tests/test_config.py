"""Every shipped config composes from habitat's real structured configs."""

from __future__ import annotations

import pytest

from habitat_llm4teach.config.structured import CONFIG_DIR
from habitat_llm4teach.run import available_configs, minigrid_tasks

CONFIGS = available_configs()
TASKS = {"simpledoorkey": "SimpleDoorKey", "lavadoorkey": "LavaDoorKey", "coloreddoorkey": "ColoredDoorKey", "twodoor": "TwoDoor"}
ARMS = ("ppo", "llm4teach", "teacher")

# What each arm composes to: trainer, (updater, distributed updater, storage), acting policy, plan cache, evaluate.
# PPO's updaters are habitat's with a fused Adam step (distill/optimizer.py).
PPO_COMPONENTS = ("FusedAdamPPO", "FusedAdamDDPPO", "RolloutStorage")
DISTILL_COMPONENTS = ("L4TDistillPPO", "L4TDistillDDPPO", "L4TRolloutStorage")
ARM_VALUES = {
    # PPO's student is the llm4teach arm's network (L4TResNetPolicy: PointNavResNetPolicy at llm4teach.student's width).
    "ppo": ("ppo", PPO_COMPONENTS, "L4TResNetPolicy", None, False),
    "llm4teach": ("llm4teach", DISTILL_COMPONENTS, "L4TResNetPolicy", "data/plan_cache/minigrid.json", False),
    "teacher": ("ppo", PPO_COMPONENTS, "L4TTeacherPolicy", "data/plan_cache/minigrid.json", True),
}
PAPER_SCHEDULE = {"schedule": "paper", "start": 10.0, "floor": 0.1, "decay_per_update": 0.005, "off_after": -1}


def test_minigrid_has_one_config_per_arm_and_a_task_group():
    assert [c for c in CONFIGS if c.startswith("minigrid/")] == sorted(f"minigrid/{arm}" for arm in ARMS)
    assert minigrid_tasks() == sorted(TASKS)


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("arm", ARMS)
def test_minigrid_config_composes(composed, arm, task):
    from habitat_baselines.common.baseline_registry import baseline_registry

    config = composed(f"minigrid/{arm}", [f"minigrid/task={task}"])
    hb = config.habitat_baselines
    trainer, (updater, distrib_updater, storage), policy, cache_path, evaluate = ARM_VALUES[arm]
    assert hb.trainer_name == trainer and baseline_registry.get_trainer(trainer) is not None
    assert (hb.updater_name, hb.distrib_updater_name, hb.rollout_storage_name) == (updater, distrib_updater, storage)
    assert baseline_registry.get_updater(updater) is not None and baseline_registry.get_storage(storage) is not None
    assert hb.vector_env_factory._target_ == "habitat_llm4teach.envs.minigrid.factory.MiniGridVectorEnvFactory"
    assert hb.vector_env_factory.task == TASKS[task]
    assert hb.rl.policy.main_agent.name == policy and baseline_registry.get_policy(policy) is not None
    assert hb.rl.ddppo.backbone == "resnet18"
    hidden = {s.uuid for s in hb.eval.extra_sim_sensors.values()}
    assert {"minigrid_symbolic", "third_rgb"} <= hidden
    # The run folders users see keep their names: data/runs/minigrid/<task>_<arm>.
    assert config.llm4teach.run_dir == f"data/runs/minigrid/{task}_{arm}"
    assert hb.checkpoint_folder == f"data/runs/minigrid/{task}_{arm}/checkpoints"
    assert config.llm4teach.teacher.cache_path == cache_path
    assert hb.evaluate == evaluate and hb.test_episode_count == (100 if evaluate else 8)
    assert {k: config.llm4teach.distill[k] for k in PAPER_SCHEDULE} == PAPER_SCHEDULE


@pytest.mark.parametrize("arm", ARMS)
def test_minigrid_task_defaults_to_simpledoorkey(composed, arm):
    config = composed(f"minigrid/{arm}")
    assert config.habitat_baselines.vector_env_factory.task == "SimpleDoorKey"
    assert config.llm4teach.run_dir == f"data/runs/minigrid/simpledoorkey_{arm}"


def test_unknown_minigrid_task_is_rejected(composed):
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="minigrid/task"):
        composed("minigrid/ppo", ["minigrid/task=nope"])


def test_typo_in_override_is_rejected(composed):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="tota_num_steps"):
        composed("minigrid/ppo", ["habitat_baselines.tota_num_steps=5"])


def test_typo_in_factory_key_is_rejected(composed):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="tsk"):
        composed("minigrid/ppo", ["habitat_baselines.vector_env_factory.tsk=TwoDoor"])


# Habitat pick/place: composed with habitat-lab 0.3.3's own benchmark/rearrange/skills/{pick,place}.yaml (no simulator).
REARRANGE = {"pick": ("RearrangePickTask-v0", "obj_start_sensor", "target_start_sensor"),
             "place": ("RearrangePlaceTask-v0", "obj_goal_sensor", "goal_sensor")}


@pytest.mark.parametrize("task", sorted(REARRANGE))
@pytest.mark.parametrize("kind", ["ppo", "llm4teach"])
def test_rearrange_config_composes_habitat_labs_task(composed, task, kind):
    from habitat_baselines.common.baseline_registry import baseline_registry

    config = composed(f"rearrange/{task}_{kind}")
    habitat, hb = config.habitat, config.habitat_baselines
    task_type, target_sensor, target_lab_sensor = REARRANGE[task]
    assert habitat.task.type == task_type
    assert set(habitat.task.actions) == {"arm_action", "base_velocity"}
    assert habitat.task.actions.arm_action.arm_controller == "ArmRelPosAction"
    assert habitat.task.actions.arm_action.grip_controller == "SuctionGraspAction"
    agent = habitat.simulator.agents.main_agent
    assert agent.articulated_agent_type == "FetchSuctionRobot" and "head_depth_sensor" in agent.sim_sensors
    assert {target_lab_sensor, "joint_sensor", "is_holding_sensor", "relative_resting_pos_sensor"} <= set(habitat.task.lab_sensors)
    obs_keys = set(habitat.gym.obs_keys)
    assert {"head_depth", target_sensor, "joint", "is_holding", "relative_resting_position"} <= obs_keys
    policy = hb.rl.policy.main_agent
    assert policy.action_distribution_type == "gaussian" and hb.rl.ddppo.backbone == "resnet18"
    assert baseline_registry.get_policy(policy.name) is not None
    assert hb.eval.extra_sim_sensors.third_rgb_sensor.uuid == "third_rgb" and "disk" in hb.eval.video_option
    assert hb.checkpoint_folder.startswith(config.llm4teach.run_dir) and task in config.llm4teach.run_dir
    if kind == "ppo":
        assert hb.trainer_name == "ppo" and "l4t_scene" not in obs_keys and "l4t_scene_sensor" not in habitat.task.lab_sensors
        return
    from habitat_llm4teach.distill.trainer import check_components

    assert hb.trainer_name == "llm4teach" and baseline_registry.get_trainer("llm4teach") is not None
    assert habitat.task.lab_sensors.l4t_scene_sensor.type == "L4TSceneSensor" and "l4t_scene" in obs_keys
    assert policy.name == "L4TResNetPolicy" and config.llm4teach.teacher.env == "rearrange"
    check_components(config)  # continuous updaters and storage


def test_rearrange_student_ignores_the_teacher_scene_vector(composed):
    import numpy as np
    from gym import spaces

    from habitat_llm4teach.distill.student import L4TResNetPolicy
    from habitat_llm4teach.envs.rearrange.scene import SCENE_VECTOR_SIZE

    config = composed("rearrange/pick_llm4teach", ["habitat_baselines.rl.ppo.hidden_size=32",
                                                   "habitat_baselines.rl.ddppo.num_recurrent_layers=1"])
    box = lambda *shape: spaces.Box(-np.inf, np.inf, shape, np.float32)  # noqa: E731
    observation_space = spaces.Dict({"head_depth": spaces.Box(0, 1, (64, 64, 1), np.float32), "joint": box(7),
                                     "is_holding": box(1), "obj_start_sensor": box(3), "relative_resting_position": box(3),
                                     "l4t_scene": box(SCENE_VECTOR_SIZE)})
    policy = L4TResNetPolicy.from_config(config, observation_space, spaces.Box(-1, 1, (10,), np.float32))
    assert "l4t_scene" not in policy.net._fuse_keys_1d and "joint" in policy.net._fuse_keys_1d
    assert policy.action_distribution_type == "gaussian"


# minigrid/student options: image size, ResNet width, pointwise_on_1x1_maps, pool_images_in_one_pass, RNN size and
# type.
STUDENTS = {"resnet18_64": (64, 32, False, False, 256, "LSTM"), "resnet18_64_pointwise": (64, 32, True, True, 256, "LSTM")}
DEFAULT_STUDENT = "resnet18_64_pointwise"


def _student_of(config) -> tuple:
    hb, student = config.habitat_baselines, config.llm4teach.student
    return (hb.vector_env_factory.image_size, student.resnet_baseplanes, student.pointwise_on_1x1_maps,
            student.pool_images_in_one_pass, hb.rl.ppo.hidden_size, hb.rl.ddppo.rnn_type)


@pytest.mark.parametrize("student", sorted(STUDENTS))
@pytest.mark.parametrize("arm", ["ppo", "llm4teach"])
def test_minigrid_student_group_sets_one_network_for_both_arms(composed, arm, student):
    """minigrid/student=<name> gives PPO and LLM4Teach the same network; the policy is built as the group says."""
    import numpy as np
    import torch
    from gym import spaces

    from habitat_llm4teach.distill.student import L4TResNetPolicy, OnePassPoolingResNetEncoder

    config = composed(f"minigrid/{arm}", [f"minigrid/student={student}"])
    assert _student_of(config) == STUDENTS[student]
    assert _student_of(composed(f"minigrid/{arm}")) == STUDENTS[DEFAULT_STUDENT]
    assert config.habitat_baselines.vector_env_factory.workers == "in_process"  # MiniGrid's envs, whatever the student
    size = config.habitat_baselines.vector_env_factory.image_size
    observation_space = spaces.Dict({"rgb": spaces.Box(0, 255, (size, size, 3), np.uint8),
                                     "minigrid_symbolic": spaces.Box(0, 255, (10,), np.uint8)})
    policy = L4TResNetPolicy.from_config(config, observation_space, spaces.Discrete(7))
    encoder = policy.net.visual_encoder
    convs = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].in_channels == 3 and convs[0].out_channels == config.llm4teach.student.resnet_baseplanes
    compression = encoder.compression[0]
    assert compression.kernel_size == ((1, 1) if config.llm4teach.student.pointwise_on_1x1_maps else (3, 3))
    assert (type(encoder) is OnePassPoolingResNetEncoder) == config.llm4teach.student.pool_images_in_one_pass
    rnn = policy.net.state_encoder.rnn
    assert rnn.hidden_size == config.habitat_baselines.rl.ppo.hidden_size
    assert type(rnn).__name__ == config.habitat_baselines.rl.ddppo.rnn_type


def test_a_checkpoint_of_the_other_student_is_refused_with_the_option_that_trained_it(composed):
    import numpy as np
    from gym import spaces

    from habitat_llm4teach.distill.student import L4TResNetPolicy
    from habitat_llm4teach.errors import ConfigError

    observation_space = spaces.Dict({"rgb": spaces.Box(0, 255, (64, 64, 3), np.uint8)})
    policies = {student: L4TResNetPolicy.from_config(composed("minigrid/llm4teach", [f"minigrid/student={student}"]),
                                                     observation_space, spaces.Discrete(7))
                for student in STUDENTS}
    for trained, other in [("resnet18_64", "resnet18_64_pointwise"), ("resnet18_64_pointwise", "resnet18_64")]:
        with pytest.raises(ConfigError, match=rf"minigrid/student={trained}\b.*4 parameter.s. differ in shape"):
            policies[other].load_state_dict(policies[trained].state_dict())
    # A GRU student's checkpoint in the LSTM one, and back: the recurrent cell is named.
    gru = L4TResNetPolicy.from_config(composed("minigrid/llm4teach", ["habitat_baselines.rl.ddppo.rnn_type=GRU"]),
                                      observation_space, spaces.Discrete(7))
    with pytest.raises(ConfigError, match=r"rnn_type=LSTM \(MiniGrid: minigrid/student=resnet18_64_pointwise or resnet18_64"):
        gru.load_state_dict(policies["resnet18_64_pointwise"].state_dict())
    with pytest.raises(ConfigError, match=r"rnn_type=GRU\. 4 parameter"):
        policies["resnet18_64_pointwise"].load_state_dict(gru.state_dict())
    # Its own student's checkpoint loads as torch loads it.
    policies["resnet18_64"].load_state_dict(policies["resnet18_64"].state_dict())
    gru.load_state_dict(gru.state_dict())


def test_a_resume_states_config_from_before_one_pass_pooling_builds_habitats_encoder(composed):
    """habitat resumes with the config saved in its resume state: one saved before pool_images_in_one_pass existed
    lacks the key, and its run trained with habitat's pooling."""
    import numpy as np
    from gym import spaces
    from habitat_baselines.rl.ddppo.policy.resnet_policy import ResNetEncoder
    from omegaconf import OmegaConf

    from habitat_llm4teach.distill.student import L4TResNetPolicy

    # The saved config as habitat reads it back: struct mode, without the key (an untyped copy, since a typed
    # StudentConfig node refuses deleting a field).
    config = OmegaConf.create(OmegaConf.to_container(composed("minigrid/llm4teach")))
    del config.llm4teach.student["pool_images_in_one_pass"]
    OmegaConf.set_struct(config, True)
    with pytest.raises(Exception, match="pool_images_in_one_pass"):
        config.llm4teach.student.pool_images_in_one_pass  # what failed before
    policy = L4TResNetPolicy.from_config(config, spaces.Dict({"rgb": spaces.Box(0, 255, (64, 64, 3), np.uint8)}),
                                         spaces.Discrete(7))
    assert type(policy.net.visual_encoder) is ResNetEncoder


@pytest.mark.parametrize("baseplanes", [0, 7])
def test_student_width_must_suit_habitats_group_norm(composed, baseplanes):
    import numpy as np
    from gym import spaces

    from habitat_llm4teach.distill.student import L4TResNetPolicy
    from habitat_llm4teach.errors import ConfigError

    config = composed("minigrid/ppo", [f"llm4teach.student.resnet_baseplanes={baseplanes}"])
    observation_space = spaces.Dict({"rgb": spaces.Box(0, 255, (22, 22, 3), np.uint8)})
    with pytest.raises(ConfigError, match="resnet_baseplanes must be an even number"):
        L4TResNetPolicy.from_config(config, observation_space, spaces.Discrete(7))


# A config per teacher kind that takes the kind's names from the llm4teach/teacher_kind group alone.
TEACHER_KIND_USERS = {
    "minigrid": ("minigrid/llm4teach", []),
    "minigrid_facts": ("minigrid/llm4teach", ["llm4teach/teacher_kind=minigrid_facts"]),
    "rearrange": ("rearrange/pick_llm4teach", []),
}


def test_the_teacher_kind_group_sets_what_the_trainer_checks_against(composed):
    """configs/habitat/llm4teach/teacher_kind/<kind>.yaml names the components of teachers.py's TEACHER_KINDS."""
    from habitat_llm4teach.distill.trainer import check_components
    from habitat_llm4teach.teachers import TEACHER_KINDS

    assert sorted(p.stem for p in (CONFIG_DIR / "llm4teach" / "teacher_kind").glob("*.yaml")) == sorted(TEACHER_KINDS)
    for name, (primary, overrides) in TEACHER_KIND_USERS.items():
        kind = TEACHER_KINDS[name]
        config = composed(primary, overrides)  # its only source of these names is the group
        hb = config.habitat_baselines
        assert config.llm4teach.teacher.env == name
        assert (hb.updater_name, hb.distrib_updater_name, hb.rollout_storage_name) == (
            kind.updater, kind.distrib_updater, kind.rollout_storage
        )
        check_components(config)  # the names resolve to the kind's registered classes
