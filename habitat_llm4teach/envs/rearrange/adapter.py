"""What the teacher reads from habitat-sim: the ``l4t_scene`` lab sensor (``L4TSceneSensor``).

Every step it reads from the running ``RearrangeSim`` what the teacher's pure
functions need and writes it as the flat float vector of ``scene.encode_scene``:

- the head depth camera's pose (its scene node's absolute transformation: camera
  to world, looking along -z) and field of view / depth range from its config;
- the movable objects (dynamic rigid objects: handle, position, half their
  bounding-box size), nearest to the camera first;
- the furniture, once each: the parents of the receptacles ``RearrangeSim`` already
  found and filtered for the scene (``sim.receptacles``, cached per scene), placed at
  the point of their receptacle surfaces nearest to the robot, so "within reach" means
  the edge of a long counter, not its centre. Furniture is never an object to pick;
- the task's target object, whether the robot holds it, for place the goal
  furniture (the episode's ``goal_receptacles``), and the target point (pick: the
  object, place: its goal position) and the object itself in the robot's base
  frame, as the simulator gives them (the skills steer the arm with them);
- where to steer the base next along the navmesh's shortest path to the navigable
  point nearest the target point, in the base frame (``steering.py``), so navigation
  goes round furniture instead of pushing against it.

The depth image itself is the task's own ``head_depth`` observation. Without
habitat-sim, constructing this sensor raises ``HabitatSimNotInstalledError`` with
the install command. Configure it with ``/habitat/task/lab_sensors: l4t_scene_sensor``
and list ``l4t_scene`` in ``habitat.gym.obs_keys``.
"""

from __future__ import annotations

from typing import Any, Optional

import magnum as mn
import numpy as np
from gym import spaces
from habitat.core.registry import registry
from habitat.core.simulator import Sensor, SensorTypes

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import PICK, PLACE, SCENE_VECTOR_SIZE, SceneObject, encode_scene
from habitat_llm4teach.envs.rearrange.steering import NavmeshSteering
from habitat_llm4teach.sim_optional import HabitatSimNotInstalledError, placeholders_active

HEAD_DEPTH_SENSOR = "head_depth_sensor"  # the agent's sim_sensors entry whose camera the teacher looks through


def _matrix(transformation: Any) -> np.ndarray:
    """A magnum Matrix4 as a numpy (4, 4), row-major."""
    return np.array([[transformation[c][r] for c in range(4)] for r in range(4)], dtype=np.float64)


def _half_size(range3d: Any) -> float:
    return float(max(range3d.size())) / 2.0


FURNITURE_RADIUS_M = 0.05  # furniture is placed at its nearest surface point: only that point's own size counts


def _nearest_surface_point(receptacle: Any, sim: Any, point: np.ndarray) -> np.ndarray:
    """The point of a receptacle's surface box (its bounds in its parent's frame) nearest to ``point`` (world)."""
    transform = receptacle.get_global_transform(sim)
    bounds = getattr(receptacle, "bounds", None)
    if bounds is None:  # mesh receptacles: their parent's origin
        return np.array(transform.translation, dtype=np.float64)
    local = np.array(transform.inverted().transform_point(mn.Vector3(*point)))
    clamped = np.clip(local, np.array(bounds.min), np.array(bounds.max))
    return np.array(transform.transform_point(mn.Vector3(*clamped)), dtype=np.float64)


@registry.register_sensor
class L4TSceneSensor(Sensor):
    cls_uuid = keys.L4T_SCENE

    def __init__(self, sim: Any, config: Any, *args: Any, task: Any, **kwargs: Any) -> None:
        if placeholders_active():
            raise HabitatSimNotInstalledError("the l4t_scene sensor")
        # habitat-lab's rearrange modules need the real simulator: imported only once it is known to be there.
        from habitat.tasks.rearrange.sub_tasks.place_task import RearrangePlaceTaskV1
        from habitat_sim import ShortestPath
        from habitat_sim.physics import MotionType

        self._sim = sim
        self._task_name = PLACE if isinstance(task, RearrangePlaceTaskV1) else PICK  # place subclasses pick
        self._dynamic = MotionType.DYNAMIC
        self._shortest_path = ShortestPath
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

    def _movable_objects(self) -> list[SceneObject]:
        rom = self._sim.get_rigid_object_manager()
        objects = []
        for handle in rom.get_object_handles():
            obj = rom.get_object_by_handle(handle)
            if obj.motion_type == self._dynamic:
                objects.append(SceneObject(handle, np.array(obj.translation), _half_size(obj.root_scene_node.cumulative_bb)))
        return objects

    def _furniture(self, robot_position: np.ndarray) -> list[SceneObject]:
        """One entry per receptacle parent, at its surface point nearest to the robot."""
        nearest: dict[str, np.ndarray] = {}
        for receptacle in self._sim.receptacles.values():
            parent = receptacle.parent_object_handle or receptacle.name  # stage receptacles have no parent
            point = _nearest_surface_point(receptacle, self._sim, robot_position)
            if parent not in nearest or np.linalg.norm(point - robot_position) < np.linalg.norm(nearest[parent] - robot_position):
                nearest[parent] = point
        return [SceneObject(handle, point, FURNITURE_RADIUS_M, True) for handle, point in nearest.items()]

    def get_observation(self, *args: Any, **kwargs: Any) -> np.ndarray:
        camera_pose, camera_config = self._head_camera()
        agent = self._sim.articulated_agent
        base_transform = agent.base_transformation
        robot_position = np.array(base_transform.translation, dtype=np.float64)
        objects = self._movable_objects()
        furniture = self._furniture(robot_position)
        target_indices, goal_positions = self._sim.get_targets()
        target_id = self._sim.scene_obj_ids[target_indices[0]]
        target_handle = self._sim.get_rigid_object_manager().get_object_by_id(target_id).handle
        target = next(o for o in objects if o.handle == target_handle)
        held = bool(self._sim.grasp_mgr.is_grasped and self._sim.grasp_mgr.snap_idx == target_id)
        task = self._task_name
        goal: Optional[SceneObject] = None
        if task == PLACE:
            goal_handle = self._sim.ep_info.goal_receptacles[0][0]
            goal = next((f for f in furniture if f.handle == goal_handle), None)
            target_point = goal_positions[0]
        else:
            target_point = target.position
        to_base = base_transform.inverted()
        target_base = np.array(to_base.transform_point(mn.Vector3(*target_point)), dtype=np.float64)
        object_base = np.array(to_base.transform_point(mn.Vector3(*target.position)), dtype=np.float64)
        forward = np.array(base_transform.transform_vector(mn.Vector3(1.0, 0.0, 0.0)), dtype=np.float64)
        # The sim's pathfinder is read each step: habitat may load another navmesh with a new scene.
        waypoint = NavmeshSteering(self._sim.pathfinder, self._shortest_path).waypoint(np.array(agent.base_pos, dtype=np.float64), forward,
                                           np.asarray(target_point, dtype=np.float64))
        waypoint_base = None if waypoint is None else np.array(to_base.transform_point(mn.Vector3(*waypoint)), dtype=np.float64)
        others = [o for o in objects + furniture if o.handle != target_handle and (goal is None or o.handle != goal.handle)]
        others.sort(key=lambda o: float(np.linalg.norm(o.position - camera_pose[:3, 3])))
        return encode_scene(
            task, camera_pose, float(camera_config.hfov), float(camera_config.max_depth), others, target, held, goal,
            min_depth=float(camera_config.min_depth), normalized_depth=bool(camera_config.normalize_depth),
            target_base=target_base, object_base=object_base, waypoint_base=waypoint_base,
        )
