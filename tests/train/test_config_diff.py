"""The gin fields two runs' config.gin differ in: bindings parsed, model-shaping ones first."""

from mt3_unified.train.config_diff import describe_differences, differing_fields, parse_bindings

OLD = """import mt3_unified.model.model

# Macros:
# ==============================================================================
MODEL = @UnifiedModel()
MODEL_DIR = '/runs/a'
TRAIN_STEPS = 100

# Parameters for ModelConfig:
# ==============================================================================
ModelConfig.emb_dim = 64
ModelConfig.num_heads = 4

# Parameters for UnifiedModel:
# ==============================================================================
UnifiedModel.task_weights = \\
    {'audio_to_lmx': 2.0,
     'image_to_lmx': 1.0}
encoder/ModelConfig.num_heads = 2
"""


def test_bindings_are_read_with_macros_scopes_and_continuation_lines():
    assert parse_bindings(OLD) == {
        "MODEL": "@UnifiedModel()",
        "MODEL_DIR": "'/runs/a'",
        "TRAIN_STEPS": "100",
        "ModelConfig.emb_dim": "64",
        "ModelConfig.num_heads": "4",
        "UnifiedModel.task_weights": "{'audio_to_lmx': 2.0, 'image_to_lmx': 1.0}",
        "encoder/ModelConfig.num_heads": "2",
    }


def test_the_model_shaping_fields_come_first():
    new = (
        OLD.replace("emb_dim = 64", "emb_dim = 128")
        .replace("TRAIN_STEPS = 100", "TRAIN_STEPS = 200")
        .replace("encoder/ModelConfig.num_heads = 2\n", "OptimizerConfig.learning_rate = 0.1\n")
    )
    assert differing_fields(OLD, new) == [
        ("ModelConfig.emb_dim", "64", "128"),
        ("encoder/ModelConfig.num_heads", "2", None),
        ("OptimizerConfig.learning_rate", None, "0.1"),
        ("TRAIN_STEPS", "100", "200"),
    ]
    kept = differing_fields(OLD, new, ignore=["TRAIN_STEPS"])
    assert kept[-1][0] == "OptimizerConfig.learning_rate"
    assert describe_differences(OLD, new, limit=2) == (
        "ModelConfig.emb_dim: 64 (checkpoint) vs 128 (this run); "
        "encoder/ModelConfig.num_heads: 2 (checkpoint) vs unbound (this run); and 2 more"
    )
    assert describe_differences(OLD, OLD) == ""
