"""Environment backends that plug into habitat-baselines as VectorEnvFactory targets."""
