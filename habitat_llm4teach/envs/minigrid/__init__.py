"""MiniGrid backend: the paper's tasks, a habitat VectorEnv adapter and its factory."""
