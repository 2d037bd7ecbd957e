"""The rearrangement teacher as the trainer uses it, and the run-time readiness check (no simulator)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gym import spaces

from habitat_llm4teach import keys
from habitat_llm4teach.config.structured import TeacherConfig
from habitat_llm4teach.envs.rearrange.requirements import check_rearrange_ready
from habitat_llm4teach.envs.rearrange.scene import SCENE_VECTOR_SIZE, encode_scene, load_scene
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.cache import PlanCache
from habitat_llm4teach.teacher.rearrange.describe import describe
from habitat_llm4teach.teacher.rearrange.guidance import RearrangeTeacher
from habitat_llm4teach.teacher.source import LocalPlanSource
from habitat_llm4teach.teacher.rearrange.perception import perceive
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, BASE
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall
from habitat_llm4teach.teachers import build_teacher
from helpers import REPO

SCENE = load_scene(REPO / "tests" / "data" / "rearrange_scene_pick.json")


class ScriptedPlanner:
    """Answers every description with one plan; records what it was asked."""

    def __init__(self, answer: PlanDistribution) -> None:
        self.answer = answer
        self.cache = PlanCache()
        self.asked: list[str] = []

    def plan(self, query):
        self.asked.append(query.description)
        return self.answer


def _observations(n: int) -> dict[str, torch.Tensor]:
    """n envs seeing the pick scene, as habitat's batch would carry them (normalised depth, (H, W, 1))."""
    target = next(o for o in SCENE.objects if o.handle == SCENE.target_handle)
    others = [o for o in SCENE.objects if o.handle != SCENE.target_handle]
    vector = encode_scene(SCENE.task, SCENE.camera_pose, SCENE.hfov_deg, 10.0, others, target, False, None,
                          normalized_depth=True)
    batch = {
        keys.L4T_SCENE: vector, keys.HEAD_DEPTH: (SCENE.depth / 10.0)[..., None], keys.JOINT: SCENE.obs.joint,
        keys.IS_HOLDING: np.array([0.0]), keys.RELATIVE_RESTING_POSITION: SCENE.obs.relative_resting_position,
        keys.OBJ_START_SENSOR: SCENE.obs.target_rel_ee,
    }
    return {k: torch.from_numpy(np.stack([np.asarray(v, dtype=np.float32)] * n)) for k, v in batch.items()}


def _spaces(obs: dict[str, torch.Tensor]) -> spaces.Dict:
    return spaces.Dict({k: spaces.Box(-np.inf, np.inf, tuple(v.shape[1:]), np.float32) for k, v in obs.items()})


def test_guide_batch_describes_each_env_and_fills_the_continuous_storage_fields():
    plans = PlanDistribution((Plan((SkillCall("navigate to", "apple"), SkillCall("pick", "apple")), 0.6),
                              Plan((SkillCall("look around"),), 0.4)))
    planner = ScriptedPlanner(plans)
    teacher = RearrangeTeacher(LocalPlanSource(planner))
    fields = teacher.guide_batch(_observations(3))
    assert fields[keys.TEACHER_ACTIONS].shape == (3, keys.MAX_TEACHER_PLANS, ACTION_DIM)
    np.testing.assert_allclose(fields[keys.TEACHER_WEIGHTS][:, :2].numpy(), [[0.6, 0.4]] * 3, rtol=1e-6)
    assert fields[keys.TEACHER_GUIDED].tolist() == [[True]] * 3
    assert fields[keys.TEACHER_ACTIONS][0, 0, BASE.start + 1] > 0  # turn left toward the apple
    assert planner.asked == [describe(perceive(SCENE))] * 3  # same text as the scene file's own perception
    assert teacher.pop_stats()["teacher/guided_frac"] == 1.0


def test_env_checks_name_what_is_missing():
    obs = _observations(1)
    box10 = spaces.Box(-1, 1, (ACTION_DIM,), np.float32)
    RearrangeTeacher.check_env(_spaces(obs), box10)
    with pytest.raises(ConfigError, match="10-D action"):
        RearrangeTeacher.check_env(_spaces(obs), spaces.Discrete(7))
    del obs[keys.L4T_SCENE]
    with pytest.raises(ConfigError, match="l4t_scene.*obs_keys"):
        RearrangeTeacher.check_env(_spaces(obs), box10)
    with pytest.raises(ConfigError, match="teacher.env must be one of"):
        build_teacher(TeacherConfig(env="atari"), _spaces(obs), box10)
    assert SCENE_VECTOR_SIZE == _observations(1)[keys.L4T_SCENE].shape[1]


def test_readiness_check_names_the_install_and_download_commands(composed, tmp_path, monkeypatch):
    config = composed("rearrange/place_ppo")
    with pytest.raises(ConfigError, match="install_habitat_sim.sh"):
        check_rearrange_ready(config, sim_installed=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="missing rearrangement data.*episodes.*download_rearrange_data.sh"):
        check_rearrange_ready(config, sim_installed=True)


def test_plan_overlay_writes_the_teachers_skill_into_policy_info(composed, tiny_model_dir):
    from habitat_llm4teach.distill.student import L4TResNetPolicy

    obs = _observations(2)
    config = composed("rearrange/pick_llm4teach", [
        "llm4teach.teacher.plan_overlay=true", f"llm4teach.teacher.model={tiny_model_dir}", "llm4teach.teacher.dtype=float32",
        "habitat_baselines.rl.ppo.hidden_size=32", "habitat_baselines.rl.ddppo.num_recurrent_layers=1",
    ])
    action_space = spaces.Box(-1, 1, (ACTION_DIM,), np.float32)
    policy = L4TResNetPolicy.from_config(config, _spaces(obs), action_space)
    hidden = torch.zeros(2, *policy.hidden_state_shape)
    action_data = policy.act(obs, hidden, torch.zeros(2, ACTION_DIM), torch.zeros(2, 1, dtype=torch.bool))
    assert action_data.actions.shape == (2, ACTION_DIM)
    skills = [info["teacher_skill"] for info in action_data.policy_info]
    assert len(skills) == 2 and all(isinstance(s, str) and s for s in skills)
    plain = L4TResNetPolicy.from_config(composed("rearrange/pick_llm4teach"), _spaces(obs), action_space)
    assert plain.overlay_teacher is None
