"""Many runs: sweeps, heatmaps, walk-forward and the overfitting figures."""
