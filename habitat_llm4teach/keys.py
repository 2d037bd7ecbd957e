"""Observation, info, config and rollout-buffer keys shared across the package (defined once)."""

# Student camera: what the ResNet encoder sees.
RGB = "rgb"
# Third-person full-grid frame, produced only for evaluation videos and excluded
# from the policy through habitat_baselines.eval.extra_sim_sensors.
THIRD_RGB = "third_rgb"
# Teacher-only symbolic observation (flattened, so habitat's video code skips it),
# excluded from the policy the same way.
MINIGRID_SYMBOLIC = "minigrid_symbolic"

# Info keys.
SUCCESS = "success"  # MiniGrid's; habitat tasks name theirs in habitat.task.success_measure


def success_key(habitat_config) -> str:  # type: ignore[no-untyped-def]
    """The info key that says an episode succeeded: the task's ``success_measure`` (``pick_success``,
    ``place_success``) where it names one, else :data:`SUCCESS`."""
    return habitat_config.task.get("success_measure") or SUCCESS

# Habitat pick/place: the teacher-only scene vector (envs/rearrange/adapter.py), excluded from the
# student by L4TResNetPolicy, and habitat-lab's own sensor uuids the teacher reads.
L4T_SCENE = "l4t_scene"
TEACHER_ONLY = (MINIGRID_SYMBOLIC, L4T_SCENE)
HEAD_DEPTH = "head_depth"
OBJ_START_SENSOR = "obj_start_sensor"
OBJ_GOAL_SENSOR = "obj_goal_sensor"
JOINT = "joint"
IS_HOLDING = "is_holding"
RELATIVE_RESTING_POSITION = "relative_resting_position"

# Rollout-buffer and minibatch keys of the teacher's guidance (distill/storage.py, distill/continuous.py),
# written by the teachers (teacher/minigrid/guidance.py, teacher/rearrange/guidance.py).
TEACHER_PROBS = "teacher_probs"  # [N, A] discrete students: the teacher's action distribution
TEACHER_GUIDED = "teacher_guided"  # [N, 1] whether the teacher guided that step
TEACHER_ACTIONS = "teacher_actions"  # [N, K, A] continuous students: one action per plan
TEACHER_WEIGHTS = "teacher_weights"  # [N, K] their plan probabilities
# K: plans kept per step (the teacher keeps the K most probable ones whose current skill runs).
MAX_TEACHER_PLANS = 4
