"""Every shipped config composes from habitat's real structured configs."""

from __future__ import annotations

import pytest

from habitat_llm4teach.config.structured import CONFIG_DIR

CONFIGS = sorted(
    str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in CONFIG_DIR.rglob("*.yaml") if not p.stem.startswith("_")
)
TASKS = {"simpledoorkey": "SimpleDoorKey", "lavadoorkey": "LavaDoorKey", "coloreddoorkey": "ColoredDoorKey", "twodoor": "TwoDoor"}


# config kind -> (trainer, acting policy)
KINDS = {"ppo": ("ppo", "PointNavResNetPolicy"), "teacher": ("ppo", "L4TTeacherPolicy"),
         "llm4teach": ("llm4teach", "PointNavResNetPolicy")}


def test_every_task_has_a_ppo_and_a_teacher_config():
    assert {f"minigrid/{t}_{kind}" for t in TASKS for kind in ("ppo", "teacher")} <= set(CONFIGS)


@pytest.mark.parametrize("name", [c for c in CONFIGS if c.startswith("minigrid/")])
def test_minigrid_config_composes(composed, name):
    from habitat_baselines.common.baseline_registry import baseline_registry

    config = composed(name)
    hb = config.habitat_baselines
    task, kind = name.split("/")[1].split("_")
    trainer, policy = KINDS[kind]
    assert hb.trainer_name == trainer and baseline_registry.get_trainer(trainer) is not None
    assert hb.vector_env_factory._target_ == "habitat_llm4teach.envs.minigrid.factory.MiniGridVectorEnvFactory"
    assert hb.vector_env_factory.task == TASKS[task]
    assert hb.rl.policy.main_agent.name == policy and baseline_registry.get_policy(policy) is not None
    assert hb.rl.ddppo.backbone == "resnet18"
    hidden = {s.uuid for s in hb.eval.extra_sim_sensors.values()}
    assert {"minigrid_symbolic", "third_rgb"} <= hidden
    assert hb.checkpoint_folder.startswith(config.llm4teach.run_dir)


def test_typo_in_override_is_rejected(composed):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="tota_num_steps"):
        composed("minigrid/simpledoorkey_ppo", ["habitat_baselines.tota_num_steps=5"])


def test_typo_in_factory_key_is_rejected(composed):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="tsk"):
        composed("minigrid/simpledoorkey_ppo", ["habitat_baselines.vector_env_factory.tsk=TwoDoor"])
