#!/usr/bin/env python
"""Build pick/place test data for habitat-lab 0.3.4 from the public rearrangement assets, reproducibly.

This script owns the way from the assets as found (the folders habitat-sim's ``datasets_download --uids
rearrange_task_assets`` fetches: ``hab_fetch_2.0/``, ``ycb_1.2/``, ``replica_cad_dataset_1.5/``,
``rearrange_dataset_v1_1.0/``, with files missing) to a ``data/`` folder laid out the way
``benchmark/rearrange/skills/{pick,place}.yaml`` read it from the working directory:

* ``replica_cad/``: the chosen scene instances and only the configs, meshes, URDFs and navmeshes they use.
  A generated box room (floor, walls, ceiling) stands in for each missing stage mesh; scene objects
  without a render mesh render their convex decomposition, or leave the scene where there is none.
* ``robots/hab_fetch/``: the three Fetch URDFs habitat-lab's agent configs name, with the visuals whose
  ``.dae`` is missing (base_link, torso_lift_link) pointed at the same link's collision mesh.
* ``objects/ycb/``: the YCB objects the kept episodes use.
* ``datasets/replica_cad/rearrange/v2/{train,val}/rearrange_easy.json.gz``: v1 episodes with v2 receptacle
  names (resolved with habitat-lab's ``find_receptacles``), kept if stable under physics, split per scene.
* ``default.physics_config.json``: what habitat-lab's ``check_and_gen_physics_config`` writes.

    python scripts/build_rearrange_data.py --assets DIR [--out data] [--check]

Run habitat from the folder holding ``data/``: episodes name their files relative to it. A missing input
exits with code 2 and its name; a second run with the same arguments only reads the stamp file.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ASSETS_ENV = "LLM4TEACH_REARRANGE_ASSETS"
V1_EPISODES = "rearrange_dataset_v1_1.0/v1/val/rearrange_easy.json.gz"  # the only public v1 split
ROBOT_URDFS = ("hab_suction.urdf", "hab_fetch.urdf", "fetch_onlyarm.urdf")  # named by the fetch(_suction) configs
STAMP = ".build_rearrange_data.json"
WALL = 0.10  # wall and floor-slab thickness (m)
# Episode filter, the reference test pack's thresholds: objects within 15 cm of a receptacle; after 3 s of
# physics (no robot) the target and a copy of it at its goal moved at most 5 cm, nothing dropped over 25 cm.
SETTLE_S, MAX_TARGET_MOVE, MAX_DROP, MAX_OFF_RECEPTACLE = 3.0, 0.05, 0.25, 0.15
RELABEL_SLACK = 0.05  # a v1 label stands while its object is within 5 cm of that receptacle's box


class MissingInput(Exception):
    """An input the build needs is absent (exit code 2)."""


def log(msg: str) -> None:
    print(f"[build_rearrange_data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def need(path: Path) -> Path:
    if not path.exists():
        raise MissingInput(f"missing input: {os.path.normpath(path)}")
    return path


def read_json(path: Path):
    return json.loads(need(path).read_text())


class Output:
    """Writes under --out and lists what it wrote (the stamp keeps the list; stale files go by it)."""

    def __init__(self, root: Path):
        self.root, self.files = root, set()

    def path(self, rel: str) -> Path:
        rel = os.path.normpath(rel)
        self.files.add(rel)
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        return self.root / rel

    def copy(self, src: Path, rel: str) -> None:
        shutil.copyfile(need(src), self.path(rel))  # not copy2: the assets are read-only, the copies must not be

    def json(self, obj, rel: str) -> None:
        self.path(rel).write_text(json.dumps(obj, indent=2) + "\n")


# ---------------------------------------------------------------- ReplicaCAD subset
def build_replica(src: Path, out: Output, scenes: list[str]) -> dict[str, dict]:
    """Copy what the scenes use; returns {stage template: {"navmeshes", "scenes", "substitute"}}."""
    dataset = read_json(src / "replicaCAD.scene_dataset_config.json")
    out.copy(src / "LICENSE.txt", "replica_cad/LICENSE.txt")
    ssd = dataset["semantic_scene_descriptor_instances"][dataset["scene_instances"]["default_attributes"]
                                                        ["semantic_scene_instance"]]
    out.copy(src / ssd, f"replica_cad/{ssd}")
    stages, navmeshes, objects = {}, {}, set()
    for scene in scenes:
        rel = f"configs/scenes/{scene}.scene_instance.json"
        inst = read_json(src / rel)
        kept = [o for o in inst["object_instances"] if o["template_name"] in objects or copy_object(src, out, o)]
        objects |= {o["template_name"] for o in kept}
        if len(kept) < len(inst["object_instances"]):
            out.json({**inst, "object_instances": kept}, f"replica_cad/{rel}")
        else:
            out.copy(src / rel, f"replica_cad/{rel}")
        for ao in inst["articulated_object_instances"]:
            copy_urdf(src, out, ao["template_name"])
        light = f"configs/{inst['default_lighting']}.lighting_config.json"
        out.copy(src / light, f"replica_cad/{light}")
        nav = inst["navmesh_instance"]
        navmeshes[nav] = dataset["navmesh_instances"][nav]
        out.copy(src / navmeshes[nav], f"replica_cad/{navmeshes[nav]}")
        stage = stages.setdefault(inst["stage_instance"]["template_name"], {"navmeshes": [], "scenes": []})
        stage["navmeshes"].append(src / navmeshes[nav])
        stage["scenes"].append(scene)
    for name, stage in stages.items():
        rel, here = f"configs/stages/{name}.stage_config.json", src / "configs/stages"
        cfg = read_json(src / rel)
        stage["substitute"] = not (here / cfg["render_asset"]).exists()
        if stage["substitute"]:  # the apartment shell is missing: point the stage at the generated box room
            out.json({**cfg, "render_asset": f"../../stages/{name}_substitute.glb"}, f"replica_cad/{rel}")
            continue
        out.copy(src / rel, f"replica_cad/{rel}")
        for asset in (v for k, v in cfg.items() if k.endswith("_asset") and (here / v).exists()):
            out.copy(here / asset, f"replica_cad/configs/stages/{asset}")
    # The globbed object/AO/stage folders hold only what the scenes use; the navmesh list must match too.
    out.json({**dataset, "navmesh_instances": navmeshes}, "replica_cad/replicaCAD.scene_dataset_config.json")
    return stages


def copy_object(src: Path, out: Output, instance: dict) -> bool:
    name, here = instance["template_name"], src / "configs/objects"
    cfg = read_json(here / f"{name}.object_config.json")
    render, collision = cfg["render_asset"], cfg.get("collision_asset")
    if (here / render).exists():
        out.copy(here / f"{name}.object_config.json", f"replica_cad/configs/objects/{name}.object_config.json")
    elif collision and (here / collision).exists():
        # e.g. frl_apartment_bike_02.glb is missing (habitat-lab aborts on it): grey convex chunks of the right shape.
        render = cfg["render_asset"] = collision
        out.json(cfg, f"replica_cad/configs/objects/{name}.object_config.json")
        log(f"  {name}: render mesh missing, rendering its convex decomposition {Path(collision).name}")
    else:
        log(f"  {name}: no render mesh and no convex decomposition: removed from the scene")
        return False
    for asset in {render, collision} - {None}:
        if (here / asset).exists():
            out.copy(here / asset, f"replica_cad/configs/objects/{asset}")
    return True


def copy_urdf(src: Path, out: Output, name: str) -> None:
    found = sorted(src.glob(f"urdf/*/{name}.urdf"))  # the dataset config globs urdf/*/
    if not found:
        raise MissingInput(f"missing input: {src}/urdf/*/{name}.urdf (articulated object {name})")
    folder = found[0].parent
    rel = f"replica_cad/{folder.relative_to(src)}"
    out.copy(found[0], f"{rel}/{name}.urdf")
    for mesh in sorted(set(re.findall(r'filename="([^"]+)"', found[0].read_text()))):
        out.copy(folder / mesh, f"{rel}/{mesh}")
    if (folder / f"{name}.ao_config.json").exists():  # receptacles live there
        out.copy(folder / f"{name}.ao_config.json", f"{rel}/{name}.ao_config.json")


# ---------------------------------------------------------------- substitute stage (glTF 2.0 binary)
def face(c, h, axis: int, sign: int):
    """The face of box (centre c, half sizes h) whose normal is sign * axis: counter-clockwise seen from outside."""
    u, v = ((axis + 1) % 3, (axis + 2) % 3)[::sign]  # u x v = normal
    n, eu, ev = np.eye(3, dtype=np.float32)[[axis, u, v]] * [[sign], [h[u]], [h[v]]]
    p = c + n * h[axis]
    return np.array([p - eu - ev, p + eu - ev, p + eu + ev, p - eu + ev], np.float32), np.tile(n, (4, 1))


def mesh(faces):
    """(positions, normals, uint32 indices) of quads, two triangles each."""
    pos, nrm = (np.concatenate([f[i] for f in faces]).astype(np.float32) for i in (0, 1))
    idx = (np.arange(len(faces), dtype=np.uint32)[:, None] * 4 + np.array([0, 1, 2, 0, 2, 3], np.uint32)).ravel()
    return pos, nrm, idx


def boxes(*ranges):
    """All 6 faces of each axis-aligned box (lo, hi)."""
    return [face((np.add(lo, hi) / 2).astype(np.float32), np.subtract(hi, lo) / 2, axis, sign)
            for lo, hi in ranges for axis in range(3) for sign in (1, -1)]


def write_glb(path: Path, parts) -> None:
    """One mesh with a primitive and a plain PBR material per (positions, normals, indices, rgba) part."""
    blob, views, accessors, materials, prims = bytearray(), [], [], [], []

    def add(arr, target, **acc):
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": arr.nbytes, "target": target})
        blob.extend(arr.tobytes())  # float32 / uint32 only: every view stays 4-byte aligned
        accessors.append({"bufferView": len(views) - 1, "count": len(arr), **acc})
        return len(accessors) - 1

    for pos, nrm, idx, rgba in parts:
        pbr = {"baseColorFactor": rgba, "metallicFactor": 0.0, "roughnessFactor": 0.9}
        materials.append({"pbrMetallicRoughness": pbr})
        prims.append({"attributes": {"POSITION": add(pos, 34962, componentType=5126, type="VEC3",
                                                     min=pos.min(0).tolist(), max=pos.max(0).tolist()),
                                     "NORMAL": add(nrm, 34962, componentType=5126, type="VEC3")},
                      "indices": add(idx, 34963, componentType=5125, type="SCALAR"), "material": len(materials) - 1})
    doc = {"asset": {"version": "2.0", "generator": "scripts/build_rearrange_data.py"}, "scene": 0,
           "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": "substitute_stage"}],
           "meshes": [{"primitives": prims}], "materials": materials, "accessors": accessors,
           "bufferViews": views, "buffers": [{"byteLength": len(blob)}]}
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(js) + len(blob)) + struct.pack("<I4s", len(js), b"JSON")
                     + js + struct.pack("<I4s", len(blob), b"BIN\0") + bytes(blob))


def write_stage(path: Path, lo, hi) -> None:
    """A box room around x, z in [lo, hi]: a floor slab with its top at y = 0 (ReplicaCAD's floor), four walls
    up to hi.y and one down-facing ceiling quad. Upward rays hit the quad (habitat-lab's indoor-island test casts
    them) while Recast finds nothing walkable on it, as it would on top of a slab."""
    (x0, _, z0), (x1, top, z1), w = lo, hi, WALL
    floor = boxes(((x0 - w, -w, z0 - w), (x1 + w, 0, z1 + w)))
    walls = boxes(((x0 - w, 0, z0 - w), (x0, top, z1 + w)), ((x1, 0, z0 - w), (x1 + w, top, z1 + w)),
                  ((x0, 0, z0 - w), (x1, top, z0)), ((x0, 0, z1), (x1, top, z1 + w)))
    centre, half = np.array([x0 + x1, 2 * top, z0 + z1], np.float32) / 2, np.array([x1 - x0, 0, z1 - z0]) / 2
    ceiling = [face(centre, half, 1, -1)]
    write_glb(path, [(*mesh(floor), [0.55, 0.4, 0.28, 1.0]), (*mesh(walls), [0.9, 0.89, 0.86, 1.0]),
                     (*mesh(ceiling), [1.0, 1.0, 1.0, 1.0])])


def build_stage(out: Output, name: str, stage: dict, ycb: Path) -> None:
    """Size the room from the scenes' navmesh bounds (Recast keeps the original stage's bounds: x, z and the
    ceiling height), widened to every piece of furniture (a beanbag pokes out), plus 5 cm."""
    import habitat_sim

    bounds = []
    for nav in stage["navmeshes"]:
        pf = habitat_sim.nav.PathFinder()
        pf.load_nav_mesh(str(nav))
        bounds += [np.array(b) for b in pf.get_bounds()]
    lo, hi = np.min(bounds, axis=0), np.max(bounds, axis=0)
    glb = out.path(f"replica_cad/stages/{name}_substitute.glb")
    write_stage(glb, lo, hi)  # a first room, so that the scenes load and their furniture can be measured
    for scene in stage["scenes"]:
        from habitat.sims.habitat_simulator import sim_utilities as su

        sim = make_sim(out.root, scene, ycb)
        pts = np.concatenate([su.get_global_keypoints_from_object_id(sim, i) for i in su.get_all_object_ids(sim)])
        sim.close()
        lo[[0, 2]], hi[[0, 2]] = np.minimum(lo, pts.min(0))[[0, 2]], np.maximum(hi, pts.max(0))[[0, 2]]
    lo[[0, 2]] -= 0.05
    hi[[0, 2]] += 0.05
    write_stage(glb, lo, hi)
    log(f"stage: {glb.name}: x {lo[0]:.2f}..{hi[0]:.2f}, z {lo[2]:.2f}..{hi[2]:.2f}, ceiling {hi[1]:.2f}")


# ---------------------------------------------------------------- robot and objects
def build_robot(src: Path, out: Output) -> None:
    out.copy(src / "LICENSE.txt", "robots/hab_fetch/LICENSE.txt")

    def patch(m):
        mesh, stand_in = m.group(1), re.sub(r"\.dae$", "_collision.STL", m.group(1))
        if (src / "robots" / mesh).exists() or not (src / "robots" / stand_in).exists():
            return m.group(0)  # present, or no stand-in: copying it below names what is missing
        # Without it habitat-sim refuses the whole URDF. fetch_ros' collision mesh of the link shares its frame.
        return (f"<!-- build_rearrange_data: {Path(mesh).name} is missing from the public assets; this link's "
                f"collision mesh serves as its visual -->{m.group(0).replace(mesh, stand_in)}")

    meshes = set()
    for name in ROBOT_URDFS:
        text = re.sub(r'<mesh filename="([^"]+)"\s*/>', patch, need(src / "robots" / name).read_text())
        out.path(f"robots/hab_fetch/robots/{name}").write_text(text)
        meshes |= set(re.findall(r'filename="([^"]+)"', text))
    for mesh in sorted(meshes):
        out.copy(src / "robots" / mesh, f"robots/hab_fetch/robots/{mesh}")
        if mesh.endswith(".dae"):  # the textures the Collada file names
            for tex in re.findall(r"<init_from>([^<]+\.png)</init_from>", (src / "robots" / mesh).read_text()):
                out.copy((src / "robots" / mesh).parent / tex, f"robots/hab_fetch/robots/{Path(mesh).parent}/{tex}")


def build_ycb(src: Path, out: Output, configs: set[str]) -> None:
    out.copy(src / "LICENSE.txt", "objects/ycb/LICENSE.txt")
    out.copy(src / "ycb.scene_dataset_config.json", "objects/ycb/ycb.scene_dataset_config.json")
    for name in sorted(configs):
        cfg = read_json(src / "configs" / name)
        out.copy(src / "configs" / name, f"objects/ycb/configs/{name}")
        out.copy(src / "configs" / cfg["render_asset"], f"objects/ycb/configs/{cfg['render_asset']}")
        # The configs name ../collision_meshes/, ycb_1.2 ships collison_meshes/ (sic): habitat-sim collides with
        # the render mesh, upstream as here, so the collision files are not needed.
        if (src / "configs" / cfg.get("collision_asset", "-")).is_file():
            out.copy(src / "configs" / cfg["collision_asset"], f"objects/ycb/configs/{cfg['collision_asset']}")


# ---------------------------------------------------------------- simulator work
@contextlib.contextmanager
def plugin_warnings_dropped():
    """Magnum warns about duplicate static plugins at each start (how the wheel is linked): keep the progress
    readable by dropping those lines; the rest of stderr passes through."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().decode(errors="replace").splitlines(True)
            sys.stderr.writelines(line for line in lines if "duplicate static plugin" not in line)


def make_sim(out: Path, scene: str, ycb_configs: Path):
    import habitat_sim

    cfg = habitat_sim.SimulatorConfiguration()
    cfg.scene_dataset_config_file = str(out / "replica_cad/replicaCAD.scene_dataset_config.json")
    cfg.scene_id = str(out / f"replica_cad/configs/scenes/{scene}.scene_instance.json")
    cfg.enable_physics, cfg.create_renderer, cfg.gpu_device_id = True, False, -1  # geometry and physics only: fast
    cfg.physics_config_file = str(out / "default.physics_config.json")
    agent = habitat_sim.agent.AgentConfiguration(sensor_specifications=[])
    with plugin_warnings_dropped():
        sim = habitat_sim.Simulator(habitat_sim.Configuration(cfg, [agent]))
    sim.get_object_template_manager().load_configs(str(ycb_configs))
    return sim


def rec_distance(sim, rec, point) -> float:
    """Distance from a world point to a receptacle's box, 0 inside (some ReplicaCAD boxes have negative sizes)."""
    b = rec.bounds
    lo, hi = np.minimum(b.min, b.max), np.maximum(b.min, b.max)
    q = np.array(rec.get_global_transform(sim).inverted().transform_point(point))
    return float(np.linalg.norm(np.maximum(0.0, np.maximum(lo - q, q - hi))))


def convert_scene(sim, episodes: list[dict], want: int, physics: bool, stats: dict) -> list[dict]:
    """v1 -> v2 for one scene's episodes, in source order, until `want` of them pass the filter."""
    import magnum as mn
    from habitat.datasets.rearrange.samplers.receptacle import find_receptacles

    rom, aom = sim.get_rigid_object_manager(), sim.get_articulated_object_manager()
    otm = sim.get_object_template_manager()
    aos = {h: aom.get_object_by_handle(h) for h in aom.get_object_handles()}
    scene_joints = {h: ao.joint_positions for h, ao in aos.items()}
    recs, kept = find_receptacles(sim), []

    def add(template: str, T):
        obj = rom.add_object_by_template_handle(otm.get_template_handles(template)[0])
        obj.transformation = mn.Matrix4([[T[j][i] for j in range(4)] for i in range(4)])  # rows -> columns
        return obj

    for ep in episodes:
        for h, ao in aos.items():  # the scene's joint state with the episode's changes, as RearrangeSim sets it
            pose = list(scene_joints[h])
            for link, value in ep["ao_states"].get(h, {}).items():
                pose[ao.get_link_joint_pos_offset(int(link))] = value
            ao.joint_positions, ao.joint_velocities = pose, [0.0] * len(pose)
        placed, counts = [], {}
        for template, T in ep["rigid_objs"]:  # instance handles as RearrangeSim names them
            name = template.split(".")[0]
            placed.append((f"{name}_:{counts.get(name, 0):04d}", add(template, T)))
            counts[name] = counts.get(name, 0) + 1
        name_to_rec, relabelled, off = {}, 0, 0.0
        for handle, obj in placed:
            dists = [(rec_distance(sim, r, obj.translation), r.unique_name, r.name) for r in recs]
            best = min(dists)
            named = min((d for d in dists if d[2] == ep["name_to_receptacle"][handle]), default=(np.inf, "", ""))
            # v2 wants "<parent instance>|<receptacle>": the receptacle of the v1 name closest to the object
            # (two chairs share one). A v1 label that is plainly wrong (the object lies outside that box and
            # another receptacle is closer, e.g. the fridge's bottom shelf called middle-top) is relabelled.
            take = named if named[0] <= max(RELABEL_SLACK, best[0]) else best
            name_to_rec[handle], relabelled, off = take[1], relabelled + (take is not named), max(off, best[0])
        for handle, T in ep["targets"].items():  # a copy of each target at its place goal must rest too
            placed.append(("goal|" + handle, add(handle.split("_:")[0] + ".object_config.json", T)))
        ok, why = off <= MAX_OFF_RECEPTACLE, f"an object lies {off:.2f} m from every receptacle"
        if ok and physics:
            before = {h: np.array(o.translation) for h, o in placed}
            for _, o in placed:
                o.awake = True
            sim.step_physics(SETTLE_S)
            move = {h: float(np.linalg.norm(np.array(o.translation) - before[h])) for h, o in placed}
            drop = max(before[h][1] - o.translation[1] for h, o in placed)
            target = max(max(move[h], move["goal|" + h]) for h in ep["targets"])
            ok, why = target <= MAX_TARGET_MOVE and drop <= MAX_DROP, f"target moved {target:.3f} m, drop {drop:.3f} m"
        for _, o in placed:
            rom.remove_object_by_id(o.object_id)
        if not ok:
            stats["dropped"].append(f"v1 episode {ep['episode_id']}: {why}")
            continue
        stats["relabelled"] += relabelled
        kept.append({**ep, "name_to_receptacle": name_to_rec,
                     "info": {**ep["info"], "datapack_source": f"{V1_EPISODES} episode_id={ep['episode_id']}"}})
        if len(kept) == want:
            break
    return kept


def check(out: Path) -> list[str]:
    """Load the output in habitat-sim; returns the problems found."""
    import habitat_sim
    import magnum as mn
    from habitat.datasets.rearrange.samplers.receptacle import find_receptacles

    problems, episodes = [], []
    for split in ("train", "val"):
        with gzip.open(out / f"datasets/replica_cad/rearrange/v2/{split}/rearrange_easy.json.gz", "rt") as f:
            episodes += [(split, e) for e in json.load(f)["episodes"]]
    for scene in sorted({Path(e["scene_id"]).name.split(".")[0] for _, e in episodes}):
        sim = make_sim(out, scene, out / "objects/ycb/configs")
        inst = read_json(out / f"replica_cad/configs/scenes/{scene}.scene_instance.json")
        loaded = [m.get_num_objects() for m in (sim.get_rigid_object_manager(), sim.get_articulated_object_manager())]
        if loaded != [len(inst["object_instances"]), len(inst["articulated_object_instances"])]:
            problems.append(f"{scene}: {loaded} (rigid, articulated) objects loaded, not all its instance names")
        sim.pathfinder.seed(0)
        for p in [sim.pathfinder.get_random_navigable_point() for _ in range(20)]:  # a closed room around the navmesh
            up = sim.cast_ray(habitat_sim.geo.Ray(p, mn.Vector3(0, 1, 0)))
            down = sim.cast_ray(habitat_sim.geo.Ray(p + mn.Vector3(0, 0.5, 0), mn.Vector3(0, -1, 0)))
            if not (up.has_hits() and down.has_hits() and -0.02 < down.hits[0].point[1] < 0.5):
                problems.append(f"{scene}: no ceiling or floor around navigable point {list(p)}")
                break
        names = {r.unique_name for r in find_receptacles(sim)}
        for split, e in episodes:
            if scene in e["scene_id"] and set(e["name_to_receptacle"].values()) - names:
                problems.append(f"{split} episode {e['episode_id']}: receptacles not in {scene}")
        for urdf in ROBOT_URDFS:
            path = out / f"robots/hab_fetch/robots/{urdf}"
            robot = sim.get_articulated_object_manager().add_articulated_object_from_urdf(str(path), fixed_base=True)
            if robot is None or robot.num_links + 1 != path.read_text().count("<link "):  # + the base link
                problems.append(f"{urdf}: not loaded with all its links")
        sim.close()
    log(f"check: {len(episodes)} episodes, {len(problems)} problem(s)")
    return problems


# ---------------------------------------------------------------- main
def build(args, out_dir: Path) -> dict:
    assets = args.assets
    for sub in ("hab_fetch_2.0", "ycb_1.2", "replica_cad_dataset_1.5", V1_EPISODES):
        need(assets / sub)
    with gzip.open(assets / V1_EPISODES, "rt") as f:
        v1 = json.load(f)["episodes"]
    per_scene = {s: [e for e in v1 if Path(e["scene_id"]).name == f"{s}.scene_instance.json"] for s in args.scenes}
    for scene in (s for s, eps in per_scene.items() if not eps):
        raise MissingInput(f"no episode of scene {scene} in {assets / V1_EPISODES}")
    with plugin_warnings_dropped():  # the first import of habitat_sim warns too
        import habitat_sim  # noqa: F401
        from habitat.datasets import utils as habitat_utils
    out, ycb = Output(out_dir), assets / "ycb_1.2/configs"
    log(f"layout: ReplicaCAD subset for {', '.join(args.scenes)}")
    stages = build_replica(assets / "replica_cad_dataset_1.5", out, args.scenes)
    log("layout: Fetch robot")
    build_robot(assets / "hab_fetch_2.0", out)
    habitat_utils.DEFAULT_PHYSICS_CONFIG_PATH = str(out.path("default.physics_config.json"))
    (out_dir / "default.physics_config.json").unlink(missing_ok=True)  # habitat-lab writes it only where there is none
    habitat_utils.check_and_gen_physics_config()
    for name, stage in stages.items():
        if stage["substitute"]:
            build_stage(out, name, stage, ycb)
    splits, report = {"train": [], "val": []}, {}
    for scene, eps in per_scene.items():
        t0, stats = time.time(), {"dropped": [], "relabelled": 0}
        sim = make_sim(out_dir, scene, ycb)
        kept = convert_scene(sim, eps, args.train + args.val, args.check_physics, stats)
        sim.close()
        if len(kept) < args.train + args.val:
            raise MissingInput(f"{scene}: {len(kept)} of its {len(eps)} v1 episodes pass the filter, "
                               f"{args.train + args.val} wanted")
        splits["train"] += kept[: args.train]
        splits["val"] += kept[args.train:]
        report[scene] = {"tried": len(kept) + len(stats["dropped"]), **stats}
        log(f"episodes: {scene}: kept {len(kept)} of {report[scene]['tried']} ({len(stats['dropped'])} dropped, "
            f"{stats['relabelled']} labels fixed, physics {'on' if args.check_physics else 'off'}) "
            f"in {time.time() - t0:.0f} s")
    for split, eps in splits.items():
        for i, ep in enumerate(eps):
            ep["episode_id"] = str(i)  # as RearrangeDatasetV0.from_json renumbers them anyway
        with gzip.open(out.path(f"datasets/replica_cad/rearrange/v2/{split}/rearrange_easy.json.gz"), "wt") as f:
            json.dump({"config": None, "episodes": eps}, f)
    configs = {o[0] for eps in splits.values() for e in eps for o in e["rigid_objs"]}
    log(f"layout: {len(configs)} YCB objects")
    build_ycb(assets / "ycb_1.2", out, configs)
    return {"files": sorted(out.files), "report": report}


def main(argv=None) -> int:
    sys.modules.setdefault("triton", None)  # habitat-lab imports torch: keep triton's LLVM away from Mesa's
    os.environ.setdefault("HABITAT_SIM_LOG", "quiet")
    os.environ.setdefault("MAGNUM_LOG", "quiet")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", type=Path, default=os.environ.get(ASSETS_ENV),
                   help=f"folder holding hab_fetch_2.0/, ycb_1.2/, ... (default: ${ASSETS_ENV})")
    p.add_argument("--out", type=Path, default=REPO / "data", help="the data/ folder to write (default: the repo's)")
    p.add_argument("--scenes", nargs="+", default=["v3_sc3_staging_01", "v3_sc3_staging_11"])
    p.add_argument("--train", type=int, default=15, help="train episodes per scene")
    p.add_argument("--val", type=int, default=10, help="val episodes per scene")
    p.add_argument("--check-physics", action=argparse.BooleanOptionalAction, default=True,
                   help="keep only episodes whose objects stay put under 3 s of physics (about 1 s per episode)")
    p.add_argument("--check", action="store_true", help="then load the output in habitat-sim and verify it")
    p.add_argument("--force", action="store_true", help="rebuild even if the stamp says the output is current")
    args = p.parse_args(argv)
    try:
        if args.assets is None:
            raise MissingInput(f"no assets folder: pass --assets DIR or set {ASSETS_ENV}")
        args.assets, out_dir = need(args.assets.resolve()), args.out.resolve()
        key = {"script": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "assets": str(args.assets),
               "scenes": args.scenes, "train": args.train, "val": args.val, "check_physics": args.check_physics}
        old = json.loads((out_dir / STAMP).read_text()) if (out_dir / STAMP).exists() else {}
        if not args.force and old.get("key") == key and all((out_dir / f).exists() for f in old["files"]):
            log(f"{out_dir} is up to date ({len(old['files'])} files; --force rebuilds)")
        else:
            t0 = time.time()
            (out_dir / STAMP).unlink(missing_ok=True)  # a build that stops half way must not look current
            result = build(args, out_dir)
            for stale in set(old.get("files", [])) - set(result["files"]):
                (out_dir / stale).unlink(missing_ok=True)
            (out_dir / STAMP).write_text(json.dumps({"key": key, **result}, indent=1) + "\n")
            log(f"built {len(result['files'])} files in {out_dir} in {time.time() - t0:.0f} s")
        if args.check:
            problems = check(out_dir)
            for problem in problems:
                print(f"check failed: {problem}", file=sys.stderr)
            return 1 if problems else 0
        return 0
    except MissingInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
