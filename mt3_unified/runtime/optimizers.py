"""AdamW or Adafactor with warmup and cosine decay, gradients clipped by their global norm."""

from __future__ import annotations

import optax


def warmup_cosine_schedule(
    learning_rate: float, steps: int, warmup_steps: int, final_fraction: float = 0.1
) -> optax.Schedule:
    """0 at step 0, ``learning_rate`` after warmup, ``final_fraction`` of it at ``steps``."""
    # At least one warmup step and one decay step, so that tiny runs stay well defined.
    warmup = max(warmup_steps, 1)
    return optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, warmup, max(steps, warmup + 1), learning_rate * final_fraction
    )


def adamw_warmup_cosine(
    learning_rate: float,
    steps: int,
    warmup_steps: int,
    b2: float = 0.99,
    clip_norm: float = 1.0,
    final_fraction: float = 0.1,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    """Clip by global norm, then AdamW on `warmup_cosine_schedule`."""
    schedule = warmup_cosine_schedule(learning_rate, steps, warmup_steps, final_fraction)
    return optax.chain(
        optax.clip_by_global_norm(clip_norm),
        optax.adamw(schedule, b2=b2, weight_decay=weight_decay),
    )


def adafactor_warmup_cosine(
    learning_rate: float,
    steps: int,
    warmup_steps: int,
    clip_norm: float = 1.0,
    final_fraction: float = 0.1,
) -> optax.GradientTransformation:
    """Clip by global norm, then Adafactor (factored second moments: T5's memory-light choice)
    on `warmup_cosine_schedule`."""
    schedule = warmup_cosine_schedule(learning_rate, steps, warmup_steps, final_fraction)
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adafactor(schedule))
