"""The only code that touches habitat-sim: the ``l4t_scene`` lab sensor (``L4TSceneSensor``).

Every step it reads from the running ``RearrangeSim`` what the teacher's pure
functions need and writes it as the flat float vector of ``scene.encode_scene``:

- the head depth camera's pose (its scene node's absolute transformation: camera
  to world, looking along -z) and field of view / depth range from its config;
- the scene's rigid objects (handle, position, half their bounding-box size),
  nearest to the camera first, and the receptacles habitat-lab knows for the
  scene (``find_receptacles``; position and half-extent of their bounds);
- the task's target (``sim.get_targets()``: its object and goal position),
  whether the robot holds it, and for place the receptacle nearest to the goal.

The depth image itself is the task's own ``head_depth`` observation. Tested
only on a real Habitat install (GPU machines): here habitat-sim is missing and
constructing this sensor raises ``HabitatSimNotInstalledError`` with the
install command. Configure it with ``/habitat/task/lab_sensors: l4t_scene_sensor``
and list ``l4t_scene`` in ``habitat.gym.obs_keys``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from gym import spaces
from habitat.core.registry import registry
from habitat.core.simulator import Sensor, SensorTypes

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import PICK, PLACE, SCENE_VECTOR_SIZE, SceneObject, encode_scene
from habitat_llm4teach.sim_optional import HabitatSimNotInstalledError, placeholders_active

HEAD_DEPTH_SENSOR = "head_depth_sensor"  # the agent's sim_sensors entry whose camera the teacher looks through


def _matrix(transformation: Any) -> np.ndarray:
    """A magnum Matrix4 as a numpy (4, 4), row-major."""
    return np.array([[transformation[c][r] for c in range(4)] for r in range(4)], dtype=np.float64)


def _half_size(range3d: Any) -> float:
    return float(max(range3d.size())) / 2.0


@registry.register_sensor
class L4TSceneSensor(Sensor):
    cls_uuid = keys.L4T_SCENE

    def __init__(self, sim: Any, config: Any, *args: Any, task: Any, **kwargs: Any) -> None:
        if placeholders_active():
            raise HabitatSimNotInstalledError("the l4t_scene sensor")
        self._sim = sim
        self._task = task
        super().__init__(config=config)

    def _get_uuid(self, *args: Any, **kwargs: Any) -> str:
        return self.cls_uuid

    def _get_sensor_type(self, *args: Any, **kwargs: Any) -> SensorTypes:
        return SensorTypes.TENSOR

    def _get_observation_space(self, *args: Any, **kwargs: Any) -> spaces.Box:
        return spaces.Box(low=-np.inf, high=np.inf, shape=(SCENE_VECTOR_SIZE,), dtype=np.float32)

    def _head_camera(self) -> tuple[np.ndarray, Any]:
        agent_config = self._sim.habitat_config.agents[self._sim.habitat_config.agents_order[0]]
        camera_config = agent_config.sim_sensors[HEAD_DEPTH_SENSOR]
        node = self._sim._sensors[camera_config.uuid]._sensor_object.node
        return _matrix(node.absolute_transformation()), camera_config

    def _objects(self) -> list[SceneObject]:
        rom = self._sim.get_rigid_object_manager()
        objects = []
        for handle in rom.get_object_handles():
            obj = rom.get_object_by_handle(handle)
            objects.append(SceneObject(handle, np.array(obj.translation), _half_size(obj.root_scene_node.cumulative_bb)))
        from habitat.datasets.rearrange.samplers.receptacle import find_receptacles

        for receptacle in find_receptacles(self._sim):
            bounds = getattr(receptacle, "bounds", None)
            transform = receptacle.get_global_transform(self._sim)
            centre = transform.transform_point(bounds.center()) if bounds is not None else transform.translation
            radius = _half_size(bounds) if bounds is not None else 0.5
            objects.append(SceneObject(receptacle.parent_object_handle or receptacle.name, np.array(centre), radius, True))
        return objects

    def get_observation(self, *args: Any, **kwargs: Any) -> np.ndarray:
        camera_pose, camera_config = self._head_camera()
        objects = self._objects()
        idxs, goal_positions = self._sim.get_targets()
        rom = self._sim.get_rigid_object_manager()
        target_handle = rom.get_object_by_id(self._sim.scene_obj_ids[idxs[0]]).handle
        target = next(o for o in objects if o.handle == target_handle)
        held = bool(self._sim.grasp_mgr.is_grasped and self._sim.grasp_mgr.snap_idx == self._sim.scene_obj_ids[idxs[0]])
        task = PICK if "Pick" in type(self._task).__name__ else PLACE
        goal: Optional[SceneObject] = None
        receptacles = [o for o in objects if o.is_receptacle]
        if task == PLACE and receptacles:
            goal = min(receptacles, key=lambda r: float(np.linalg.norm(r.position - goal_positions[0])))
        others = [o for o in objects if o.handle != target_handle and (goal is None or o.handle != goal.handle)]
        others.sort(key=lambda o: float(np.linalg.norm(o.position - camera_pose[:3, 3])))
        return encode_scene(
            task, camera_pose, float(camera_config.hfov), float(camera_config.max_depth), others, target, held, goal,
            min_depth=float(camera_config.min_depth), normalized_depth=bool(camera_config.normalize_depth),
        )
