"""Training: device mesh and partitioning, trainer, checkpoints, gin entry points."""
