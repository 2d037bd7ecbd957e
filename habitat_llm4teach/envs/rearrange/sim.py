"""``L4TRearrangeSim``: habitat-lab's ``RearrangeSim`` with a navmesh that knows the articulated furniture.

``RearrangeSim`` recomputes the navmesh when a scene loads, with the robot's radius and
``include_static_objects``. habitat-sim bakes in only objects whose motion type is ``STATIC``
(``Simulator::recomputeNavMesh``), and ReplicaCAD loads its articulated furniture (kitchen counter,
fridge, cupboards, cabinet, chest of drawers) as ``DYNAMIC`` with a fixed base, so none of it is in
the navmesh: the floor under a kitchen counter is navigable, shortest paths run through it, pick's
start poses are sampled next to (or against) it, and the base-velocity action lets the base drive
into it until habitat's force limit ends the episode (measured with ``probe_rearrange_skills.py``:
the base against kitchen-counter drawers at 10^5-10^7 N within 5-27 steps of the start). habitat-lab
has a patch for the same fault (facebookresearch/habitat-lab#2077, "static non-agent AOs for
rearrange_sim navmesh"), not in the release we pin.

This subclass makes every non-robot articulated object ``STATIC`` for the recomputation only
(habitat-sim then bakes in each link's mesh at its current joint state) and gives it back its
motion type after, so physics is untouched. It recomputes at every episode, not only at a new
scene: an episode opens drawers and doors (``ao_states``), and an open drawer is an obstacle the
robot must drive round. The recomputation costs ~0.05 s a reset on the test scenes.

It is an option, not the default, because it changes habitat's task (where the robot may stand and
start) without raising success: with the teacher's controllers alone on pick (probe, 30 train + 20 val
episodes) force failures fell from 8 + 3 to 2 + 1, but targets on the fridge's shelves and deep on the
counter could no longer be brought within the arm's reach from any navigable point (step limits 1 + 2
to 8 + 4): success 0.53 / 0.65 with habitat's navmesh, 0.50 / 0.65 with this one (README, "Habitat pick
and place"). Select it with ``habitat.simulator.type=L4TRearrangeSim-v0``; it is registered when
:mod:`habitat_llm4teach.registration` or the env factory imports it.
"""

from __future__ import annotations

from typing import Any

from habitat.core.registry import registry

from habitat_llm4teach.sim_optional import placeholders_active

SIM_NAME = "L4TRearrangeSim-v0"

if not placeholders_active():
    import habitat_sim
    from habitat.tasks.rearrange.rearrange_sim import RearrangeSim

    @registry.register_simulator(name=SIM_NAME)
    class L4TRearrangeSim(RearrangeSim):
        def reconfigure(self, config: Any, ep_info: Any) -> None:
            new_scene = self.prev_scene_id != ep_info.scene_id
            super().reconfigure(config, ep_info)
            if not new_scene:  # RearrangeSim recomputed it for a new scene; the episode's joint states are set now
                self._recompute_navmesh()

        def _recompute_navmesh(self) -> None:
            static = habitat_sim.physics.MotionType.STATIC
            robots = {agent.sim_obj.object_id for agent in self.agents_mgr.articulated_agents_iter}
            furniture = [
                ao for ao in self.get_articulated_object_manager().get_objects_by_handle_substring().values()
                if ao.object_id not in robots and ao.motion_type != static
            ]
            motion_types = [ao.motion_type for ao in furniture]
            for ao in furniture:
                ao.motion_type = static
            try:
                super()._recompute_navmesh()
            finally:
                for ao, motion_type in zip(furniture, motion_types):
                    ao.motion_type = motion_type
