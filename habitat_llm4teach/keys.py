"""Observation, info and config keys shared across the package (defined once)."""

# Student camera: what the ResNet encoder sees.
RGB = "rgb"
# Third-person full-grid frame, produced only for evaluation videos and excluded
# from the policy through habitat_baselines.eval.extra_sim_sensors.
THIRD_RGB = "third_rgb"
# Teacher-only symbolic observation (flattened, so habitat's video code skips it),
# excluded from the policy the same way.
MINIGRID_SYMBOLIC = "minigrid_symbolic"

# Info keys.
SUCCESS = "success"
