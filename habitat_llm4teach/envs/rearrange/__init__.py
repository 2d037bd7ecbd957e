"""Habitat pick and place, the environment side: what the teacher reads and how the envs are built.

``adapter.py`` (the ``l4t_scene`` lab sensor) reads habitat-sim; ``sim.py`` (``L4TRearrangeSim``) subclasses
habitat's ``RearrangeSim`` so the navmesh includes the articulated furniture (an option);
``scene.py`` holds its vector as plain arrays (what teacher/rearrange reads);
``requirements.py`` checks habitat-sim and the data before a run; ``factory.py`` builds the envs.
"""
