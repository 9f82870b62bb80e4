"""Training inputs for the trainer tests: tiny examples written as TFRecords, gin bindings."""

from __future__ import annotations

from mt3_unified.train.inputs import write_example_records
from tests.model.helpers import ALL_PAIRS, SMALL_VOCAB, TINY, make_batch

# The tests' tiny model and small vocabulary as gin bindings, for runs started by command.
TINY_BINDINGS = [
    *(f"VocabularyConfig.{f}={getattr(SMALL_VOCAB, f)}" for f in (
        "image_codebooks", "image_codebook_size", "audio_codebooks", "audio_codebook_size")),
    *(f"ModelConfig.{f}={getattr(TINY, f)}" for f in (
        "emb_dim", "num_heads", "num_kv_heads", "head_dim", "mlp_dim", "num_encoder_layers",
        "num_decoder_layers", "depth_heads", "depth_mlp_dim")),
]  # fmt: skip


def write_records(path: str, seeds=range(4)) -> int:
    """One example of every task per seed (12 tasks x 4 seeds = 48 examples)."""
    examples = []
    for seed in seeds:
        batch = make_batch(ALL_PAIRS, seed=seed)
        examples += [{k: v[i] for k, v in batch.items()} for i in range(len(ALL_PAIRS))]
    return write_example_records(path, examples)
