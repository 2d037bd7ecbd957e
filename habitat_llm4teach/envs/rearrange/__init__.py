"""Habitat pick and place for the LLM teacher.

Data path, one module each: ``scene.py`` (plain arrays: camera, depth, objects,
task observations; the ``l4t_scene`` vector) -> ``perception.py`` (what the head
camera sees, named by ``names.py``) -> ``describe.py`` (text and candidate
skills) -> the planner with ``prompts.py`` (``parse.py`` reads sampled plans) ->
``skills.py`` (controllers, arm model in ``kinematics.py``) -> ``teacher.py``
(per-plan actions and weights) -> ``guidance.py`` (the trainer's teacher).
``adapter.py`` is the only module that touches habitat-sim.
"""
