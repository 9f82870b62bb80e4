"""The run's optimizer, chosen and sized in gin: AdamW (the paper's) or Adafactor."""

from __future__ import annotations

import dataclasses

import gin
import optax

from mt3_unified.runtime.optimizers import (
    adafactor_warmup_cosine,
    adamw_warmup_cosine,
    warmup_cosine_schedule,
)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Warmup to `learning_rate`, cosine decay to `final_learning_rate` at the run's last step
    (the paper: 1e-4 to 1e-5 after 2k warmup steps), gradients clipped to `clip_norm`."""

    name: str = "adamw"
    learning_rate: float = 1e-4
    final_learning_rate: float = 1e-5
    warmup_steps: int = 2000
    clip_norm: float = 1.0
    weight_decay: float = 1e-4
    b2: float = 0.99

    def __post_init__(self):
        if self.name not in ("adamw", "adafactor"):
            raise ValueError(f"optimizer name must be 'adamw' or 'adafactor', got {self.name!r}")

    @property
    def final_fraction(self) -> float:
        return self.final_learning_rate / self.learning_rate

    def schedule(self, steps: int) -> optax.Schedule:
        return warmup_cosine_schedule(
            self.learning_rate, steps, self.warmup_steps, self.final_fraction
        )

    def build(self, steps: int) -> optax.GradientTransformation:
        if self.name == "adafactor":
            return adafactor_warmup_cosine(
                self.learning_rate, steps, self.warmup_steps, self.clip_norm, self.final_fraction
            )
        return adamw_warmup_cosine(
            self.learning_rate, steps, self.warmup_steps, self.b2, self.clip_norm,
            self.final_fraction, self.weight_decay,
        )  # fmt: skip
