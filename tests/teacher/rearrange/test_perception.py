"""Rearrangement perception, names, scene files and the l4t_scene vector, on hand-built scenes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from habitat_llm4teach.envs.rearrange.scene import (
    SCENE_VECTOR_SIZE, SceneError, SceneObject, decode_scene, encode_scene, load_scene, scene_from_dict,
)
from habitat_llm4teach.teacher.rearrange.names import fallback_name, readable_name, unique_names
from habitat_llm4teach.teacher.rearrange.perception import floor_offset, perceive, project, rigid_inverse, visible_mask
from helpers import REPO

PICK_SCENE = REPO / "tests" / "data" / "rearrange_scene_pick.json"
PLACE_SCENE = REPO / "tests" / "data" / "rearrange_scene_place.json"


@pytest.mark.parametrize("handle,name", [
    ("013_apple_:0000", "apple"),
    ("002_master_chef_can_:0001", "master chef can"),
    ("frl_apartment_kitchen_counter_:0000", "kitchen counter"),
    ("receptacle_aabb_Tbl1_Top1_frl_apartment_table_01", "table"),
    ("data/objects/ycb/configs/005_tomato_soup_can.object_config.json", "tomato soup can"),
])
def test_readable_names_from_handles(handle, name):
    assert readable_name(handle) == name


@pytest.mark.parametrize("handle", [":0000", "___", "", "12_34:0000", "\u00e9\u00e8"])
def test_unreadable_handles_get_a_stable_fallback(handle):
    assert readable_name(handle) == fallback_name(handle) == readable_name(handle)
    assert readable_name(handle).startswith("object ")
    assert readable_name(":0000") != readable_name(":0001")


def test_equal_names_are_made_unique_in_handle_order():
    assert unique_names(["024_bowl_:0001", "013_apple_:0000", "024_bowl_:0000"]) == {
        "013_apple_:0000": "apple", "024_bowl_:0000": "bowl", "024_bowl_:0001": "bowl 2"}


def _camera() -> np.ndarray:
    return np.eye(4)  # at the origin, looking along -z


def test_projection_and_frustum():
    points = np.array([[0.0, 0.0, -2.0], [1.0, 0.0, -1.0], [0.0, 0.0, 2.0], [3.0, 0.0, -1.0]])
    pixels, depth = project(points, 90.0, 20, 10)
    assert pixels[0].tolist() == [10.0, 5.0] and depth[0] == 2.0
    assert pixels[1][0] == pytest.approx(20.0)  # 45 degrees right: the image edge at hfov 90
    far = np.full((10, 20), 10.0)
    assert visible_mask(points, np.zeros(4), _camera(), 90.0, far).tolist() == [True, False, False, False]
    assert not visible_mask(points[:1], np.zeros(1), _camera(), 90.0, far, max_depth=1.5)[0]  # beyond range


def test_a_poses_closed_form_inverse_is_numpys_and_a_scaled_matrix_falls_back_to_it():
    rotations = pytest.importorskip("scipy.spatial.transform").Rotation.random(20, random_state=0).as_matrix()
    rng = np.random.default_rng(0)
    for rotation in rotations:
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rotation, rng.uniform(-10, 10, 3)
        np.testing.assert_allclose(rigid_inverse(pose), np.linalg.inv(pose), atol=1e-12)
    scaled = np.diag([2.0, 2.0, 2.0, 1.0])
    scaled[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(rigid_inverse(scaled), np.linalg.inv(scaled), atol=1e-12)


def test_depth_occlusion_with_the_objects_own_radius():
    point = np.array([[0.0, 0.0, -3.0]])
    wall = np.full((10, 20), 2.0)  # something 1 m in front of it
    assert not visible_mask(point, np.array([0.1]), _camera(), 90.0, wall)[0]
    surface = np.full((10, 20), 2.9)  # its own front surface, 0.1 m in front of its centre
    assert visible_mask(point, np.array([0.1]), _camera(), 90.0, surface)[0]
    assert not visible_mask(point, np.array([0.0]), _camera(), 90.0, surface)[0]


def test_floor_offset_bearing_is_positive_to_the_left():
    distance, bearing = floor_offset(np.array([[-1.0, 0.5, -1.0], [2.0, 0.0, 0.0]]), _camera())
    assert distance[0] == pytest.approx(math.sqrt(2)) and bearing[0] == pytest.approx(math.pi / 4)
    assert bearing[1] == pytest.approx(-math.pi / 2)


def test_pick_scene_perception():
    perception = perceive(load_scene(PICK_SCENE))
    names = [o.name for o in perception.objects]
    assert "apple" in names and "bowl" in names and "kitchen counter" in names
    assert "cracker box" not in names  # behind the wall: occluded
    assert "mug" not in names  # behind the robot: outside the frustum
    assert any(n.startswith("object ") for n in names)  # the handle with no readable name
    distances = [o.distance for o in perception.objects]
    assert distances == sorted(distances)
    assert perception.holding is None and perception.goal is None and perception.target == "apple"
    apple = next(o for o in perception.objects if o.name == "apple")
    assert apple.bearing > 0  # left of the heading


def test_place_scene_perception_has_the_held_object_and_the_goal():
    perception = perceive(load_scene(PLACE_SCENE))
    assert perception.holding is not None and perception.holding.name == "apple"
    assert perception.goal is not None and perception.goal.name == "kitchen counter" and perception.goal.visible
    assert "apple" not in [o.name for o in perception.objects]
    assert perception.mission == "place the apple on the kitchen counter"


def test_scene_vector_round_trip():
    scene = load_scene(PLACE_SCENE)
    target = SceneObject(scene.target_handle, np.zeros(3))
    vector = encode_scene(scene.task, scene.camera_pose, scene.hfov_deg, scene.max_depth, list(scene.objects), target,
                          True, scene.goal)
    assert vector.shape == (SCENE_VECTOR_SIZE,) and vector.dtype == np.float32
    decoded = decode_scene(vector, scene.depth, scene.obs)
    assert decoded.task == scene.task and decoded.held_handle == scene.target_handle
    assert [o.handle for o in decoded.objects] == [o.handle for o in scene.objects]
    np.testing.assert_allclose(decoded.camera_pose, scene.camera_pose, atol=1e-6)
    assert [o.name for o in perceive(decoded).objects] == [o.name for o in perceive(scene).objects]
    with pytest.raises(SceneError, match="shape"):
        decode_scene(vector[:-1], scene.depth, scene.obs)
    normalized = encode_scene(scene.task, scene.camera_pose, scene.hfov_deg, 10.0, [], target, False, None,
                              min_depth=0.0, normalized_depth=True)
    pick = decode_scene(normalized, (scene.depth / 10.0)[..., None], scene.obs)  # habitat's (H, W, 1) in [0, 1]
    np.testing.assert_allclose(pick.depth, scene.depth)
    assert pick.held_handle is None and [o.handle for o in pick.objects] == [scene.target_handle]


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(task="open"), "'task' must be one of"),
    (lambda d: d.update(depth=[]), "'depth' must be a non-empty 2-D"),
    (lambda d: d["camera"].update(pose=[[1, 0], [0, 1]]), "'pose' has shape"),
    (lambda d: d["objects"][0].pop("handle"), "objects\\[0\\]: missing string 'handle'"),
    (lambda d: d["observations"].update(joint=[0.0] * 6), "'joint' has shape"),
    (lambda d: d["camera"].update(hfov_deg=0), "hfov_deg"),
])
def test_bad_scene_files_are_rejected_clearly(change, message):
    data = json.loads(PICK_SCENE.read_text())
    change(data)
    with pytest.raises(SceneError, match=message):
        scene_from_dict(data)


def test_missing_scene_file(tmp_path):
    with pytest.raises(SceneError, match="cannot read scene file"):
        load_scene(tmp_path / "none.json")
