"""scripts/build_rearrange_data.py against habitat-sim, habitat-lab and the reference test pack.

The data is built once per session from the public assets ($LLM4TEACH_REARRANGE_ASSETS, else
../shared/habitat/assets next to the repository) into a temporary folder, unless the tier's data root
already holds this script's default build.
Expected values come from the simulator, the source assets or the reference pack
($LLM4TEACH_REARRANGE_TESTPACK: a folder holding data/ or the .tar.zst; else
rearrange_testpack.tar.zst beside the assets folder), never from the script's own output.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.modules.setdefault("triton", None)  # before torch: triton's LLVM and Mesa's llvmpipe cannot share a process

import numpy as np
import pytest

from helpers import REPO

SCRIPT = REPO / "scripts" / "build_rearrange_data.py"
SCENES = ("v3_sc3_staging_01", "v3_sc3_staging_11")
EPISODES = "data/datasets/replica_cad/rearrange/v2/{split}/rearrange_easy.json.gz"
CPU = "habitat.simulator.habitat_sim_v0.gpu_device_id=-1"


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def _episodes(root: Path, split: str) -> list[dict]:
    with gzip.open(root / EPISODES.format(split=split), "rt") as f:
        return json.load(f)["episodes"]


@pytest.fixture(scope="session")
def assets() -> Path:
    path = Path(os.environ.get("LLM4TEACH_REARRANGE_ASSETS", REPO.parent / "shared/habitat/assets"))
    if not (path / "replica_cad_dataset_1.5").is_dir():
        pytest.skip(f"public rearrangement assets not found at {path} (set LLM4TEACH_REARRANGE_ASSETS)")
    return path.resolve()


@pytest.fixture(scope="session")
def built(assets, tmp_path_factory) -> Path:
    """The folder holding data/ as this script builds it by default: the tier's data root when the script's stamp
    there says so (CI builds it before the tests), else a fresh build in a temporary folder."""
    root = Path(os.environ.get("LLM4TEACH_HABITAT_DATA", REPO)).resolve()
    stamp = root / "data/.build_rearrange_data.json"
    default = {"script": hashlib.sha256(SCRIPT.read_bytes()).hexdigest(), "assets": str(assets),
               "scenes": list(SCENES), "train": 15, "val": 10, "check_physics": True}
    if stamp.exists() and json.loads(stamp.read_text()).get("key") == default:
        return root
    root = tmp_path_factory.mktemp("built")
    result = _run("--assets", str(assets), "--out", str(root / "data"))
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture(scope="session")
def reference(assets, tmp_path_factory) -> Path:
    """The folder holding the reference pack's data/ (only its episode files are unpacked)."""
    given = os.environ.get("LLM4TEACH_REARRANGE_TESTPACK")
    pack = Path(given) if given else assets.parent / "rearrange_testpack.tar.zst"
    if pack.is_dir() and (pack / "data").is_dir():
        return pack
    if not pack.is_file():
        pytest.skip(f"reference test pack not found at {pack} (set LLM4TEACH_REARRANGE_TESTPACK)")
    root = tmp_path_factory.mktemp("reference")
    members = [EPISODES.format(split=s) for s in ("train", "val")]
    result = subprocess.run(["tar", "--zstd", "-xf", str(pack), "-C", str(root), *members],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot unpack {pack}: {result.stderr.strip()}")
    return root


@pytest.fixture
def in_built(built, monkeypatch):
    """habitat-lab reads the episodes' data/... paths and data/default.physics_config.json from the cwd."""
    monkeypatch.chdir(built)
    return built


def _sim(root: Path, scene: str):
    import habitat_sim

    cfg = habitat_sim.SimulatorConfiguration()
    cfg.create_renderer = False  # geometry and physics are enough here
    cfg.scene_dataset_config_file = str(root / "data/replica_cad/replicaCAD.scene_dataset_config.json")
    cfg.scene_id = str(root / f"data/replica_cad/configs/scenes/{scene}.scene_instance.json")
    cfg.enable_physics, cfg.gpu_device_id = True, -1
    cfg.physics_config_file = str(root / "data/default.physics_config.json")
    agent = habitat_sim.agent.AgentConfiguration(sensor_specifications=[])
    return habitat_sim.Simulator(habitat_sim.Configuration(cfg, [agent]))


def test_second_run_skips_and_bad_input_exits_2(built, assets, tmp_path):
    start = time.time()
    again = _run("--assets", str(assets), "--out", str(built / "data"), "--check")
    assert again.returncode == 0 and "up to date" in again.stdout and "0 problem(s)" in again.stdout, again.stderr
    assert time.time() - start < 60
    missing = _run("--assets", str(tmp_path / "nowhere"), "--out", str(tmp_path / "data"))
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    partial = tmp_path / "partial"  # every folder but the robot's
    partial.mkdir()
    for sub in ("ycb_1.2", "replica_cad_dataset_1.5", "rearrange_dataset_v1_1.0"):
        (partial / sub).symlink_to(assets / sub)
    incomplete = _run("--assets", str(partial), "--out", str(tmp_path / "data"))
    assert incomplete.returncode == 2 and "hab_fetch_2.0" in incomplete.stderr
    assert not (tmp_path / "data").exists()


def test_converted_receptacles_match_the_reference_pack(built, reference):
    """Same v1 source episode -> same v2 "<parent instance>|<receptacle>" names, targets and objects."""
    ours = {e["info"]["datapack_source"]: e for s in ("train", "val") for e in _episodes(built, s)}
    theirs = {e["info"]["datapack_source"]: e for s in ("train", "val") for e in _episodes(reference, s)}
    shared = sorted(set(ours) & set(theirs))
    assert len(shared) >= 0.8 * len(theirs), f"only {len(shared)} of the pack's {len(theirs)} source episodes"
    for source in shared:
        for key in ("name_to_receptacle", "rigid_objs", "targets", "ao_states", "scene_id"):
            assert ours[source][key] == theirs[source][key], f"{source}: {key}"


def test_splits_are_disjoint_and_balanced(built, reference):
    train, val = _episodes(built, "train"), _episodes(built, "val")
    sources = [e["info"]["datapack_source"] for e in train + val]
    assert len(set(sources)) == len(sources)
    ref = {s: _episodes(reference, s) for s in ("train", "val")}
    for split, eps in (("train", train), ("val", val)):
        for scene in SCENES:
            assert sum(scene in e["scene_id"] for e in eps) == sum(scene in e["scene_id"] for e in ref[split])


def test_scenes_load_whole_inside_a_closed_room(built, assets):
    import habitat_sim
    import magnum as mn

    for scene in SCENES:  # all furniture: bike_02 renders its convex decomposition instead of leaving
        instance = assets / "replica_cad_dataset_1.5/configs/scenes" / f"{scene}.scene_instance.json"
        source = json.loads(instance.read_text())
        sim = _sim(built, scene)
        try:
            assert sim.get_rigid_object_manager().get_num_objects() == len(source["object_instances"])
            assert sim.get_articulated_object_manager().get_num_objects() == len(source["articulated_object_instances"])
            sim.pathfinder.seed(1)
            for _ in range(10):
                p = sim.pathfinder.get_random_navigable_point()
                up = sim.cast_ray(habitat_sim.geo.Ray(p, mn.Vector3(0, 1, 0)))
                assert up.has_hits(), f"{scene}: nothing above {p}"
                down = sim.cast_ray(habitat_sim.geo.Ray(p + mn.Vector3(0, 0.3, 0), mn.Vector3(0, -1, 0)))
                assert down.has_hits() and -0.02 < down.hits[0].point[1] < 0.35
        finally:
            sim.close()


def test_habitat_labs_kinematic_manager_parents_every_object(built):
    """kinematic_mode consumes name_to_receptacle: each object must find its receptacle's parent in the scene."""
    import magnum as mn
    from habitat.datasets.rearrange.samplers.receptacle import find_receptacles
    from habitat.sims.habitat_simulator.kinematic_relationship_manager import KinematicRelationshipManager

    for split in ("train", "val"):
        for ep in _episodes(built, split):
            sim = _sim(built, Path(ep["scene_id"]).name.split(".")[0])
            try:
                otm, rom = sim.get_object_template_manager(), sim.get_rigid_object_manager()
                otm.load_configs(str(built / ep["additional_obj_config_paths"][0]))
                for template, T in ep["rigid_objs"]:
                    obj = rom.add_object_by_template_handle(otm.get_template_handles(template)[0])
                    obj.transformation = mn.Matrix4([[T[j][i] for j in range(4)] for i in range(4)])
                assert set(rom.get_object_handles()) >= set(ep["name_to_receptacle"])
                krm = KinematicRelationshipManager(sim)
                krm.initialize_from_obj_to_rec_pairs(ep["name_to_receptacle"], find_receptacles(sim))
                assert len(krm.relationship_graph.obj_to_parents) == len(ep["rigid_objs"]), ep["episode_id"]
            finally:
                sim.close()


def test_robot_loads_with_all_its_links(built, assets):
    sim = _sim(built, SCENES[0])
    try:
        aom = sim.get_articulated_object_manager()
        for name in ("hab_suction.urdf", "hab_fetch.urdf", "fetch_onlyarm.urdf"):
            links = (assets / "hab_fetch_2.0/robots" / name).read_text().count("<link ")
            urdf = built / "data/robots/hab_fetch/robots" / name
            robot = aom.add_articulated_object_from_urdf(str(urdf), fixed_base=True)
            assert robot is not None and robot.num_links + 1 == links, name  # + the base link
            base = robot.get_link_scene_node(-1)
            assert base.cumulative_bb.size().length() > 0.3, f"{name}: the base has no visual"
    finally:
        sim.close()


@pytest.mark.parametrize("task,split", [("pick", "train"), ("place", "val")])
def test_habitat_lab_task_builds_resets_and_steps(in_built, assets, task, split):
    from habitat.config.default import get_config
    from habitat.gym import make_gym_from_config

    config = get_config(f"benchmark/rearrange/skills/{task}.yaml", overrides=[CPU, f"habitat.dataset.split={split}"])
    env = make_gym_from_config(config)
    try:
        obs = env.reset()
        sim = env.unwrapped.habitat_env.sim
        depth = obs["head_depth"]
        assert depth.shape[:2] == (256, 256) and np.isfinite(depth).all() and depth.max() > depth.min()
        assert bool(obs["is_holding"][0] > 0.5) == (task == "place")
        urdf_links = (assets / "hab_fetch_2.0/robots/hab_suction.urdf").read_text().count("<link ")
        assert len(sim.articulated_agent.sim_obj.get_link_ids()) + 1 == urdf_links
        for _ in range(5):
            obs, reward, done, info = env.step(env.action_space.sample())
            assert np.isfinite(reward)
            if done:
                obs = env.reset()
    finally:
        env.close()
