"""Many runs: sweeps across seeds, Optuna tuning, data-parallel training."""
