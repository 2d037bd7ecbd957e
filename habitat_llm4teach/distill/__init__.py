"""Teacher-to-student distillation on habitat-baselines' PPO, one module per concept:

schedules.py (lambda over updates), with teacher/minigrid/guidance.py (observations -> teacher_probs)
-> storage.py (L4TRolloutStorage: teacher buffers beside the observations)
-> updater.py (L4TDistillPPO / L4TDistillDDPPO: PPO loss + lambda * distillation; optimizer.py: fused Adam)
-> trainer.py (L4TTrainer, ``trainer_name: llm4teach``: wires them into PPOTrainer).
"""
