"""The MiniGrid teacher, one module per step of the data path:

observation -> perception.py (perceived objects, types.py) -> describe.py (text, candidate skills)
-> the planner (teacher/planner.py) with prompts.py -> parse.py (validated skill calls)
-> skills/ (controllers) -> teacher.py (action distribution over the student's actions).
guidance.py runs that path on a batch of observations (for the trainer and for policy.py);
scene.py reads a description back (the query command, the server, labelled sets).
"""
