"""What every trainer shares: Orbax checkpoints, TensorBoard summaries and the optimizer."""
