"""The run gin files parse with a model size, name what a run must give, and bind the trainer."""

import gin
import pytest

from mt3_unified.runtime.gin_config import parse_gin
from mt3_unified.train import inputs, trainer  # noqa: F401  (registers the configurables)
from mt3_unified.train.checkpoints import CheckpointConfig
from mt3_unified.train.optimizer import OptimizerConfig


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_local_cpu_sizes_a_short_run_of_the_tiny_model():
    parse_gin(["gin/local_cpu.gin"], ["MODEL_DIR='/tmp/x'", "MIXTURE_OR_TASK_NAME='m'"])
    assert gin.query_parameter("%TRAIN_STEPS") == 2000
    assert gin.query_parameter("%BATCH_SIZE") == 8
    assert gin.query_parameter("ModelConfig.emb_dim") == 64
    assert gin.query_parameter("%TASK_FEATURE_LENGTHS") == {
        "inputs": 320,
        "targets": 320,
    }
    # The tiny codecs' codebooks, as the demo's bake writes them into codecs.json.
    assert gin.query_parameter("VocabularyConfig.image_codebook_size") == 64
    assert gin.query_parameter("VocabularyConfig.audio_codebook_size") == 32
    assert OptimizerConfig().warmup_steps == 100
    assert CheckpointConfig().every == 200
    assert gin.query_parameter("train.eval_every") == 200
    assert gin.query_parameter("seqio_dataset.log_dropped") is True


def test_finetune_restores_a_pretrain_run_with_a_fresh_schedule():
    parse_gin(
        ["gin/models/small.gin", "gin/finetune.gin"],
        ["MODEL_DIR='/tmp/ft'", "MIXTURE_OR_TASK_NAME='m'", "INITIAL_CHECKPOINT='/tmp/pre'"],
    )
    assert CheckpointConfig().initial_checkpoint == "/tmp/pre"
    assert OptimizerConfig().warmup_steps == 500


def test_a_run_must_name_its_model_dir():
    parse_gin(["gin/models/tiny.gin", "gin/train.gin"], ["MIXTURE_OR_TASK_NAME='m'"])
    with pytest.raises(ValueError, match=r"^train: model_dir, steps, batch_size not set; bind"):
        trainer.train(model=None)


def test_an_unknown_mixture_is_named_before_anything_is_built():
    from mt3_unified.tasks.registry import UnknownTaskError

    with pytest.raises(UnknownTaskError, match="no task or mixture named 'no_such_mixture'"):
        inputs.seqio_dataset(
            mixture_or_task_name="no_such_mixture",
            task_feature_lengths={"inputs": 8, "targets": 8},
            batch_size=2,
            seed=0,
        )


def test_the_metric_evaluator_names_an_unknown_task_when_validated():
    from mt3_unified.tasks.registry import UnknownTaskError
    from mt3_unified.train.evaluation import TaskMetricEvaluator

    evaluator = TaskMetricEvaluator(
        mixture_or_task_name="no_such_task", task_feature_lengths={"inputs": 8, "targets": 8}
    )  # building it reads nothing: gin builds it for runs that never evaluate
    with pytest.raises(UnknownTaskError, match="no task or mixture named 'no_such_task'"):
        evaluator.validate()


def test_demo_amt_mel_trains_amt_alone_on_log_mel_frames_with_the_demos_budget():
    from mt3_unified.model.config import ModelConfig
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_amt_mel.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_amt"
    assert gin.query_parameter("%TRAIN_STEPS") == 4500  # the demo's (gin/demo.gin)
    assert ContinuousInputs().modalities == ("audio",)
    config = ModelConfig()
    assert (config.continuous_input_dim, config.continuous_modalities) == (128, ("audio",))
    assert config.continuous_input_dim == ContinuousInputs().num_mel_bins


def test_demo_amt_mel_256_is_the_same_run_with_a_wider_deeper_model():
    from mt3_unified.model.config import ModelConfig
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_amt_mel_256.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_amt"
    assert gin.query_parameter("%TRAIN_STEPS") == 4000
    assert ContinuousInputs().modalities == ("audio",)
    config = ModelConfig()
    shape = (config.emb_dim, config.num_heads, config.head_dim, config.mlp_dim)
    assert shape == (256, 4, 64, 1024)
    assert (config.num_encoder_layers, config.num_decoder_layers) == (4, 4)
    assert (config.continuous_input_dim, config.max_input_len) == (128, 320)


def test_demo_128_is_the_demo_run_twice_as_wide_for_half_the_steps():
    from mt3_unified.model.config import ModelConfig

    parse_gin(["gin/demo_128.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_all"
    assert gin.query_parameter("%TRAIN_STEPS") == 2250  # gin/demo.gin's 4,500 halved
    config = ModelConfig()
    shape = (config.emb_dim, config.num_heads, config.head_dim, config.mlp_dim)
    assert shape == (128, 4, 32, 512)
    assert (config.num_encoder_layers, config.num_decoder_layers) == (2, 2)
    assert (config.depth_mlp_dim, config.max_input_len) == (256, 320)


def test_demo_omr_patch_256_reads_every_pixel_in_patches_that_fit_the_inputs():
    import tensorflow as tf

    from mt3_unified.model.config import ModelConfig
    from mt3_unified.preprocessors.continuous import image_patches
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_omr_patch_256.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_omr"
    inputs, config = ContinuousInputs(), ModelConfig()
    assert inputs.modalities == config.continuous_modalities == ("image",)
    assert (config.emb_dim, config.num_encoder_layers, config.num_decoder_layers) == (256, 4, 4)
    # The corpus's systems are 128 px high (no resizing) and at most 320 px wide: 8 rows
    # of 16 x 16 patches, 20 columns, within the 320 input frames.
    widest = image_patches(tf.ones([128, 320]), image_height=inputs.image_height,
                           patch_size=inputs.patch_size)  # fmt: skip
    assert widest.shape == (8 * 20, config.continuous_input_dim)
    assert widest.shape[0] <= config.max_input_len


def test_demo_rows_embeds_the_rows_the_demo_image_codec_writes():
    from mt3_unified.codecs.rqvae import RQVAEConfig
    from mt3_unified.model.config import ModelConfig

    parse_gin(["gin/demo_rows.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%TRAIN_STEPS") == 4500  # gin/demo.gin's run otherwise
    rows = ModelConfig().image_rows
    gin.clear_config()
    parse_gin(["gin/codecs/rqvae_demo.gin"], [])
    codec = RQVAEConfig()
    assert rows == codec.height // codec.factor == 8


def test_demo_omr_strips_reads_each_pixel_column_pair_as_one_frame():
    import tensorflow as tf

    from mt3_unified.model.config import ModelConfig
    from mt3_unified.preprocessors.continuous import image_patches
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_omr_strips.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_omr"
    inputs, config = ContinuousInputs(), ModelConfig()
    assert inputs.modalities == config.continuous_modalities == ("image",)
    assert config.emb_dim == 64  # gin/demo.gin's tiny model
    # The corpus's widest systems (128 x 320 px): 160 strips of 128 x 2 pixels.
    widest = image_patches(
        tf.ones([128, 320]),
        image_height=inputs.image_height,
        patch_size=inputs.patch_size,
        patch_height=inputs.patch_height,
    )
    assert widest.shape == (160, config.continuous_input_dim)
    assert widest.shape[0] <= config.max_input_len


def test_demo_rows_omr3_triples_omrs_share_of_the_demos_batches():
    from mt3_unified.model.config import ModelConfig

    parse_gin(["gin/demo_rows_omr3.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_all"
    assert ModelConfig().image_rows == 8
    assert gin.query_parameter("mixing_rate.weights") == {"omr": 3.0}


def test_demo_mel_reads_audio_as_log_mel_in_the_demos_mixture():
    from mt3_unified.model.config import ModelConfig
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_mel.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_all"
    inputs, config = ContinuousInputs(), ModelConfig()
    assert inputs.modalities == config.continuous_modalities == ("audio",)
    assert inputs.width() == config.continuous_input_dim == 128
    # As many frames a second as the demo's audio codes: a system fits as its codes did.
    assert inputs.frame_rate == 50.0 and inputs.sample_rate == 16000
    assert gin.query_parameter("%TASK_FEATURE_LENGTHS")["inputs"] == 320


def test_demo_mel_amt3_triples_amts_share_on_log_mel():
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_mel_amt3.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_all"
    assert ContinuousInputs().modalities == ("audio",)
    assert gin.query_parameter("mixing_rate.weights") == {"amt": 3.0}


def test_demo_amt_mel_50_reads_amt_alone_at_the_codes_frame_rate():
    from mt3_unified.tasks.chain import ContinuousInputs

    parse_gin(["gin/demo_amt_mel_50.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_amt"
    inputs = ContinuousInputs()
    assert inputs.modalities == ("audio",) and inputs.frame_rate == 50.0


def test_demo_lr3e3_triples_the_demos_peak_learning_rate_alone():
    from mt3_unified.train.optimizer import OptimizerConfig

    parse_gin(["gin/demo_lr3e3.gin"], ["MODEL_DIR='/tmp/x'"])
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME") == "synthetic_demo_all"
    config = OptimizerConfig()
    assert config.learning_rate == 3e-3
    assert (config.final_learning_rate, config.warmup_steps) == (5e-5, 150)
    assert gin.query_parameter("%TRAIN_STEPS") == 4500
