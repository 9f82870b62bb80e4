"""launch/*.sh --dry-run prints exactly the command each would run, quoted for pasting."""

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = f"{ROOT}/.venv/bin/python"
# A gin file, a binding whose value holds quotes and a space, a kebab-case binding.
FLAGS = ["--gin_file=gin/models/small.gin", "--gin.MODEL_DIR='gs://bucket/run 1'",
         "--gin", "TRAIN_STEPS=100"]  # fmt: skip
QUOTED_FLAGS = "--gin_file=gin/models/small.gin \"--gin.MODEL_DIR='gs://bucket/run 1'\" " \
    "--gin TRAIN_STEPS=100"  # fmt: skip


def dry_run(script: str, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin"}  # no PYTHON override from the caller's environment
    done = subprocess.run(
        ["bash", str(ROOT / "launch" / script), "--dry-run", *args],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return done.stdout


def test_local_runs_the_training_module_here():
    out = dry_run("local.sh", *FLAGS)
    assert out == f"{PYTHON} -m mt3_unified.train.train {QUOTED_FLAGS}\n"
    assert shlex.split(out) == [PYTHON, "-m", "mt3_unified.train.train", *FLAGS]


def test_gpu_slurm_starts_one_task_per_gpu_that_joins_by_itself():
    out = dry_run("gpu_slurm.sh", "--nodes", "4", "--gpus-per-node", "8", "--", *FLAGS)
    assert out == (
        "srun --nodes=4 --ntasks-per-node=8 --gpus-per-node=8 --kill-on-bad-exit=1 "
        f"{PYTHON} -m mt3_unified.train.train --multihost {QUOTED_FLAGS}\n"
    )


def test_tpu_pod_runs_one_command_on_every_worker():
    out = dry_run("tpu_pod.sh", "--tpu", "mt3u-v4-64", "--zone", "us-central2-b",
                  "--project", "my-project", *FLAGS)  # fmt: skip
    remote = (
        ".venv/bin/python -m mt3_unified.train.train --multihost "
        "--gin_file=gin/models/small.gin \"--gin.MODEL_DIR='\\''gs://bucket/run 1'\\''\" "
        "--gin TRAIN_STEPS=100"
    )
    assert out == (
        "gcloud compute tpus tpu-vm ssh mt3u-v4-64 --zone us-central2-b --project my-project "
        f"--worker=all --command 'cd mt3-unified && {remote}'\n"
    )
    # What each worker's shell receives, read back, is the training command word for word.
    command = shlex.split(out)[-1]
    assert shlex.split(command) == [
        "cd", "mt3-unified", "&&", ".venv/bin/python", "-m", "mt3_unified.train.train",
        "--multihost", *FLAGS,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("tpu_pod.sh", ["--zone", "z", "--gin_file=f"], "--tpu NAME and --zone ZONE are required"),
        ("local.sh", [], "give the training flags (--gin_file=... --gin.MODEL_DIR=...)"),
    ],
)
def test_a_missing_setting_is_a_usage_error(script, args, message):
    done = subprocess.run(
        ["bash", str(ROOT / "launch" / script), "--dry-run", *args],
        capture_output=True, text=True,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"{script}: {message}\n")


# ------------------------------------------------------------------ the demo's stages
DEMO_AUDIO_CODEC = "gin/codecs/audio_demo_spectral_linear_4x1024_restarts_nodrop.gin"


def _codec_dir(prep: Path, gin_file: str) -> str:
    digest = hashlib.sha256((ROOT / gin_file).read_bytes()).hexdigest()[:8]
    return f"{prep}/codecs/{Path(gin_file).stem}-{digest}"


def _stages(tmp_path: Path, script: str, done: dict[str, list[str]], **settings: str) -> str:
    """`script --dry-run` with RUN_ROOT and PREP_RUN under tmp_path, the markers of `done`
    ({folder under tmp_path: stage names}) written first."""
    for folder, names in done.items():
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (tmp_path / folder / f"{name}.done").write_text("1\n")
    env = {"PATH": "/usr/bin:/bin", "RUN_ROOT": f"{tmp_path}/runs", **settings}
    if "PREP_ROOT" not in env:
        env["PREP_RUN"] = f"{tmp_path}/prep"
    done_run = subprocess.run(["bash", str(ROOT / "launch" / script), "--dry-run"],
                              capture_output=True, text=True, env=env, check=True)  # fmt: skip
    return done_run.stdout


def _data_flags() -> str:
    return "\"--gin.DataPaths.data_dir='data'\" \"--gin.DataPaths.baked_dir='data/baked'\""


def _train(
    prep: Path, model_dir: str, mixture: str, steps: str = "", gin="demo", codebooks=True
) -> str:
    image = _codec_dir(prep, "gin/codecs/rqvae_demo.gin")
    audio = _codec_dir(prep, DEMO_AUDIO_CODEC)
    init = (
        f" \"--gin.CodebookInit.image_codec_workdir='{image}'\" "
        f"\"--gin.CodebookInit.audio_codec_workdir='{audio}'\""
    )
    return (
        f".venv/bin/mt3u train --gin-file gin/{gin}.gin \"--gin.MIXTURE_OR_TASK_NAME='{mixture}'\""
        f"{steps} \"--gin.MODEL_DIR='{model_dir}'\" {_data_flags()}" + (init if codebooks else "")
    )


SAMPLED = "--temperature 0.7 --decoding-outputs audio"  # the demo's audio decoding
IMAGE_SAMPLED = "--temperature 0.7 --decoding-outputs image"  # levers.sh's image sampling


def _eval(
    model_dir: str, output: str, split: str, pairs: str = "", examples: int = 32, flags: str = ""
) -> str:
    pairs = f" --pairs {pairs}" if pairs else ""
    flags = f" {flags}" if flags else ""
    return (
        f".venv/bin/mt3u eval --checkpoint {model_dir} -o {output} --split {split}{pairs}{flags} "
        f"{_data_flags()} --max-examples {examples}"
    )


def test_demo_dry_run_prints_every_stage_not_done(tmp_path):
    out = _stages(tmp_path, "demo.sh", {}, TRAIN_STEPS="7", CODEC_STEPS="5", EVAL_EXAMPLES="3")
    prep, runs, outputs = tmp_path / "prep", tmp_path / "runs", tmp_path / "runs" / "outputs"
    image = _codec_dir(prep, "gin/codecs/rqvae_demo.gin")
    audio = _codec_dir(prep, DEMO_AUDIO_CODEC)
    codec = (
        "\"--gin.corpus_data.corpus='synthetic_scores/demo'\" \"--gin.corpus_data.data_dir='data'\""
    )
    model = f"{runs}/demo/model"
    assert out.splitlines() == [
        "bash launch/setup_env.sh",
        ".venv/bin/mt3u build synthetic --config demo --data-dir data",
        f".venv/bin/mt3u report corpus --config demo --data-dir data -o {outputs}/corpus_demo.html",
        f".venv/bin/mt3u train-codec --gin-file=gin/codecs/rqvae_demo.gin --workdir={image} "
        f"--gin.train_codec.steps=5 {codec} 2> {prep}/image_codec.log",
        f".venv/bin/mt3u train-codec --gin-file={DEMO_AUDIO_CODEC} --workdir={audio} "
        f"--gin.train_codec.steps=5 {codec} 2> {prep}/audio_codec.log",
        f".venv/bin/mt3u bake --corpus synthetic_scores/demo --data-dir data --image-workdir "
        f"{image} --audio-workdir {audio} --output-dir data/baked/synthetic_scores/demo "
        f"--report {outputs}/codecs_demo.html",
        _train(prep, model, "synthetic_demo_all", " --gin.TRAIN_STEPS=7"),
        _eval(model, f"{outputs}/eval_demo", "test", examples=3, flags=SAMPLED),
        _eval(model, f"{outputs}/eval_demo_heldout", "test_heldout", examples=3, flags=SAMPLED),
        f".venv/bin/mt3u report eval {outputs}/eval_demo --screenshot "
        f"{outputs}/eval_demo/report.png",
    ]
    assert not (tmp_path / "runs").exists() and not prep.exists()  # a dry run writes nothing


def test_compare_dry_run_reuses_the_demos_stages_and_adds_the_single_task_runs(tmp_path):
    prep_done = ["corpus", "corpus_report", "image_codec", "audio_codec", "bake"]
    out = _stages(tmp_path, "compare_mixtures.sh",
                  {"prep/stages": prep_done, "runs/demo/stages": ["train"],
                   "runs/demo/compare/omr/stages": ["omr_train", "omr_eval"]},
                  OUTPUT_ROOT=f"{tmp_path}/out")  # fmt: skip
    prep, runs, outputs = tmp_path / "prep", tmp_path / "runs", tmp_path / "out"
    model, table = f"{runs}/demo/model", f"{outputs}/compare_demo"
    omr, amt = f"{runs}/demo/compare/omr", f"{runs}/demo/compare/amt"
    assert out.splitlines() == [
        "bash launch/setup_env.sh",
        *(f"# {name}: done before ({prep}/stages/{name}.done); skipped" for name in prep_done),
        f"# train: done before ({runs}/demo/stages/train.done); skipped",
        _eval(model, f"{outputs}/eval_demo", "test", flags=SAMPLED),
        _eval(model, f"{outputs}/eval_demo_heldout", "test_heldout", flags=SAMPLED),
        f"# omr_train: done before ({omr}/stages/omr_train.done); skipped",
        f"# omr_eval: done before ({omr}/stages/omr_eval.done); skipped",
        _eval(f"{omr}/model", f"{table}/eval_omr_heldout", "test_heldout", "image_to_lmx"),
        _train(prep, f"{amt}/model", "synthetic_demo_amt"),
        _eval(f"{amt}/model", f"{table}/eval_amt", "test", "audio_to_midi"),
        _eval(f"{amt}/model", f"{table}/eval_amt_heldout", "test_heldout", "audio_to_midi"),
        f".venv/bin/mt3u report compare -o {table}/comparison.md "
        f"--single-task {table}/eval_omr --single-task {table}/eval_omr_heldout "
        f"--single-task {table}/eval_amt --single-task {table}/eval_amt_heldout "
        f"--all-task {outputs}/eval_demo --all-task {outputs}/eval_demo_heldout",
    ]


PREP_DONE = ["corpus", "corpus_report", "image_codec", "audio_codec", "bake"]


def _baked_with(tmp_path: Path, names: list[str]) -> None:
    """The demo's prep stages under tmp_path/prep marked done, baked with codecs `names`."""
    stages = tmp_path / "prep" / "stages"
    stages.mkdir(parents=True)
    for name in PREP_DONE:
        (stages / f"{name}.done").write_text("1\n")
    (stages / "bake.codecs").write_text("".join(f"{name}\n" for name in names))


def test_demo_goes_on_from_a_bake_made_with_its_codecs(tmp_path):
    prep = tmp_path / "prep"
    names = [
        Path(_codec_dir(prep, g)).name for g in ("gin/codecs/rqvae_demo.gin", DEMO_AUDIO_CODEC)
    ]
    _baked_with(tmp_path, names)
    out = _stages(tmp_path, "demo.sh", {}, TRAIN_STEPS="7")
    assert f"# bake: done before ({prep}/stages/bake.done); skipped" in out.splitlines()
    assert (
        _train(prep, f"{tmp_path}/runs/demo/model", "synthetic_demo_all", " --gin.TRAIN_STEPS=7")
        in out
    )


def test_demo_stops_when_its_bake_was_made_with_other_codecs(tmp_path):
    _baked_with(tmp_path, ["rqvae_demo-12b23e15", "audio_demo-43e94e02"])
    env = {"PATH": "/usr/bin:/bin", "RUN_ROOT": f"{tmp_path}/runs", "PREP_RUN": f"{tmp_path}/prep"}
    done = subprocess.run(["bash", str(ROOT / "launch" / "demo.sh"), "--dry-run"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    prep, runs = tmp_path / "prep", tmp_path / "runs"
    now = ",".join(
        Path(_codec_dir(prep, g)).name for g in ("gin/codecs/rqvae_demo.gin", DEMO_AUDIO_CODEC)
    )
    assert (done.returncode, done.stdout) == (1, "bash launch/setup_env.sh\n")
    assert done.stderr == (
        f"== {prep} was baked with the codecs rqvae_demo-12b23e15,audio_demo-43e94e02, but the "
        f"gin files now name {now}. Move {prep}, {runs}/demo and "
        "data/baked/synthetic_scores/demo aside (or set PREP_ROOT, RUN_ROOT and DATA_DIR to "
        "new folders), then run bash launch/demo.sh again; nothing was changed\n"
    )


# levers.sh's audio codecs beside the demo's, in its order (gin/codecs/<name>.gin).
CODEC_LEVERS = ["audio_demo", "audio_demo_long", "audio_demo_long_256", "audio_demo_long_wide",
                "audio_demo_long_gan", "audio_demo_spectral", "audio_demo_long_16x1024",
                "audio_demo_long_mel2048", "audio_demo_spectral_16x1024",
                "audio_demo_long_convergence", "audio_demo_long_mel_only",
                "audio_demo_long_waveform", "audio_demo_long_waveform_16x1024",
                "audio_demo_spectral_linear", "audio_demo_spectral_linear_16x1024",
                "audio_demo_spectral_linear_4x1024",
                "audio_demo_spectral_linear_4x1024_long",
                "audio_demo_spectral_linear_4x1024_restarts",
                "audio_demo_spectral_linear_4x1024_restarts_nodrop_ema99"]  # fmt: skip
DEMO_AUDIO_CODEC_NAME = Path(DEMO_AUDIO_CODEC).stem
# The demo's 4 x 1,024 codec, the first 4 x 1,024 and its other variants, and 16 x 1,024,
# also heard by the tiny log-mel AMT.
TINY_JUDGED_CODECS = [DEMO_AUDIO_CODEC_NAME, "audio_demo_spectral_linear_4x1024",
                      *CODEC_LEVERS[-2:], "audio_demo_spectral_linear_16x1024"]  # fmt: skip
# The codecs whose reconstructions of one test system levers.sh draws, with their labels.
SPECTRA = [("conv, 4 x 32 codes, 400 steps (the demo's first)", "audio_demo"),
           ("conv, 4 x 32 codes, 8,000 steps", "audio_demo_curve"),
           ("conv, 16 x 1024 codes, 2,000 steps", "audio_demo_long_16x1024"),
           ("spectral, 4 x 32 codes, 2,000 steps", "audio_demo_spectral"),
           ("spectral, 16 x 1024 codes, 2,000 steps", "audio_demo_spectral_16x1024"),
           ("spectral with linear maps, 16 x 1024 codes, 2,000 steps",
            "audio_demo_spectral_linear_16x1024")]  # fmt: skip
# The codec steps whose checkpoints levers.sh's codec curve judges.
CURVE_STEPS = [1000, 2000, 4000, 8000]


STEPS_SUFFIXES = ("", "_9k", "_12k", "_18k")  # the chorales' rows runs, resumed
# (suffix, the run it resumes, steps) of the wide rows model with dropout, d128 and d256
DROPOUT_STEPS = (
    ("_9k", "", 9000),
    ("_12k", "_9k", 12000),
    ("_18k", "_12k", 18000),
    ("_22k", "_18k", 22000),
)
DROPOUT_256_STEPS = (("_9k", "", 9000), ("_12k", "_9k", 12000), ("_18k", "_12k", 18000))


def test_levers_dry_run_trains_each_lever_beside_the_run_it_changes(tmp_path):
    lever_done = ["train", "eval", "eval_heldout"]
    done = {"prep/demo/stages": PREP_DONE,
            "runs/demo/compare/amt_mel/stages": [f"amt_mel_{n}" for n in lever_done],
            "runs/demo/compare/omr/stages": [f"omr_{n}" for n in lever_done]}  # fmt: skip
    out = _stages(tmp_path, "levers.sh", done, PREP_ROOT=f"{tmp_path}/prep",
                  OUTPUT_ROOT=f"{tmp_path}/out")  # fmt: skip
    prep, runs, outputs = tmp_path / "prep", tmp_path / "runs", tmp_path / "out"
    skipped = [f"# {n}: done before ({prep}/demo/stages/{n}.done); skipped" for n in PREP_DONE]
    d256, omr = f"{runs}/demo/compare/amt_mel_256/model", f"{runs}/chorales/compare/omr/model"
    amt_mel, demo_omr = f"{runs}/demo/compare/amt_mel", f"{runs}/demo/compare/omr"
    omr_rows = f"{runs}/demo/compare/omr_rows/model"
    chorales_rows = f"{runs}/chorales/compare/omr_rows/model"
    a2i = f"{runs}/demo/compare/audio_to_image/model"
    table, chorales = f"{outputs}/compare_demo", f"{outputs}/compare_chorales"

    def all_task_lever(name: str, gin: str) -> list[str]:  # evaluated as the demo evaluates
        model = f"{runs}/demo/compare/{name}/model"
        return [
            *skipped,
            _train(prep / "demo", model, "synthetic_demo_all", gin=gin),
            _eval(model, f"{table}/eval_{name}", "test", flags=SAMPLED),
            _eval(model, f"{table}/eval_{name}_heldout", "test_heldout", flags=SAMPLED),
        ]

    def pair_lever(name: str, gin: str, mixture: str, pair: str, examples=32) -> list[str]:
        model = f"{runs}/demo/compare/{name}/model"  # trained on the mixture, judged on pair
        return [
            *skipped,
            _train(prep / "demo", model, f"synthetic_demo_{mixture}", gin=gin),
            _eval(model, f"{table}/eval_{name}", "test", pair, examples),
            _eval(model, f"{table}/eval_{name}_heldout", "test_heldout", pair, examples),
        ]

    def omr_lever(name: str, gin: str) -> list[str]:  # OMR alone on the demo corpus
        return pair_lever(name, gin, "omr", "image_to_lmx")

    def images_judged(name: str, model: str, flags: str = "") -> list[str]:  # by OMR + rows
        return [
            _eval(model, f"{table}/eval_{name}{suffix}", split, "audio_to_image",
                  flags=f"--reader {omr_rows}{flags and ' ' + flags}")
            for split, suffix in [("test", ""), ("test_heldout", "_heldout")]
        ]  # fmt: skip

    def judged(name: str, judge: str) -> list[str]:  # the all-task model's audio, judged
        return [
            _train(prep / "demo", f"{runs}/demo/model", "synthetic_demo_all"),
            _eval(f"{runs}/demo/model", f"{table}/eval_{name}", "test",
                  "midi_to_audio,image_to_audio", flags=f"--transcriber {judge}"),
        ]  # fmt: skip

    def audio_alone(name: str, gin: str, pair: str, seeds=()) -> list[str]:  # heard by amt_mel
        model, judge = f"{runs}/demo/compare/{name}/model", f"--transcriber {amt_mel}/model"
        sampled = [("_sampled", SAMPLED)] + [
            (f"_sampled_seed{s}", f"{SAMPLED} --gin.evaluate.seed={s}") for s in seeds
        ]
        return [
            *skipped,
            _train(prep / "demo", model, f"synthetic_demo_{pair}_train", gin=gin),
            _eval(model, f"{table}/eval_{name}", "test", pair, flags=judge),
            *(
                _eval(model, f"{table}/eval_{name}{suffix}", "test", pair, flags=f"{judge} {f}")
                for suffix, f in sampled
            ),
        ]

    def image_to_audio_seeds(name: str) -> list[str]:  # sampled on seeds 0, 1, 2, by amt_mel
        model, judge = f"{runs}/demo/compare/{name}/model", f"--transcriber {amt_mel}/model"
        return [
            _eval(model, f"{table}/eval_{name}_sampled_seed{seed}", "test", "image_to_audio",
                  flags=f"{judge} {SAMPLED} --gin.evaluate.seed={seed}")
            for seed in range(3)
        ]  # fmt: skip

    def resumed(
        name: str, source: str, config: str, mixture: str, steps: int, gin: str = "demo_rows"
    ) -> list[str]:
        model = f"{runs}/{config}/compare/{name}/model"  # SOURCE's model on to STEPS, rows
        return [
            f"rm -rf {model}.partial",
            f"cp -r {source} {model}.partial",
            f"mv {model}.partial {model}",
            _train(
                prep / config,
                model,
                f"synthetic_{config}_{mixture}",
                steps=f" --gin.TRAIN_STEPS={steps}",
                gin=gin,
            ),
        ]

    def audio_resumed(name: str, source: str, steps: int) -> list[str]:  # i2a, rows, 3 seeds
        source = f"{runs}/demo/compare/{source}/model"
        return [
            *resumed(name, source, "demo", "image_to_audio_train", steps),
            *image_to_audio_seeds(name),
        ]

    def amt_mixture(name: str, mixture: str) -> list[str]:  # log-mel at 50 frames a second
        return pair_lever(name, "demo_mel", mixture, "audio_to_midi")

    def image_to_audio_mixture(name: str, mixture: str) -> list[str]:  # rows, 3 seeds
        return [  # OMR on every system of both splits
            *pair_lever(name, "demo_rows", mixture, "image_to_lmx", examples=1000),
            *image_to_audio_seeds(name),
        ]

    def mixtures_table(output: str, *labelled: str) -> str:  # labels and eval-dir globs
        words = " ".join(f'--mixture "{label}={table}/eval_{name}"'
                         for label, name in (item.split("=") for item in labelled))  # fmt: skip
        return f".venv/bin/mt3u report mixtures {words} -o {table}/{output}"

    steps_evals = [
        "image_to_audio_rows_sampled",
        "image_to_audio_rows_sampled_seed1",
        "image_to_audio_rows_sampled_seed2",
        *(f"image_to_audio_rows_{k}_sampled_seed{s}" for k in ("9k", "18k") for s in range(3)),
    ]
    step_curve = (
        ".venv/bin/mt3u report step-curve "
        + " ".join(f"--eval {table}/eval_{name}" for name in steps_evals)
        + f' --pair image_to_audio --metric "onset F1 @200ms" '
        f"-o {outputs}/levers/image_to_audio_rows_steps.png"
    )
    image = _codec_dir(prep / "chorales", "gin/codecs/rqvae_demo.gin")
    audio = _codec_dir(prep / "chorales", DEMO_AUDIO_CODEC)
    codec = "\"--gin.corpus_data.corpus='synthetic_scores/chorales'\" " + (
        "\"--gin.corpus_data.data_dir='data'\""
    )
    patches = f"{runs}/chorales/compare/omr_patch_256/model"
    music21 = f"{runs}/music21/compare/omr_patch_256/model"
    demo_codec = _codec_dir(prep / "demo", DEMO_AUDIO_CODEC)
    codec_dirs = {
        lever: _codec_dir(prep / "demo", f"gin/codecs/{lever}.gin") for lever in CODEC_LEVERS
    }
    codec_dirs[DEMO_AUDIO_CODEC_NAME] = demo_codec
    curve_codec = _codec_dir(prep / "demo", "gin/codecs/audio_demo_curve.gin")

    def judged_codecs(judge: str, levers: list[str]) -> list[str]:  # heard by the AMT lever judge
        return [
            line
            for lever in levers
            for line in [
                *([] if lever == DEMO_AUDIO_CODEC_NAME else [
                    f".venv/bin/mt3u train-codec --gin-file=gin/codecs/{lever}.gin "
                    f"--workdir={codec_dirs[lever]} {codec.replace('chorales', 'demo')} "
                    f"2> {prep}/demo/{lever}.log"]),
                _eval(f"{runs}/demo/compare/{judge}/model", f"{table}/eval_{judge}_{lever}",
                      "test", "audio_to_midi", flags=f"--audio-codec {codec_dirs[lever]}"),
            ]
        ]  # fmt: skip

    chorales_prep = [
        ".venv/bin/mt3u build synthetic --config chorales --data-dir data",
        ".venv/bin/mt3u report corpus --config chorales --data-dir data "
        f"-o {outputs}/corpus_chorales.html",
        f".venv/bin/mt3u train-codec --gin-file=gin/codecs/rqvae_demo.gin --workdir={image} "
        f"{codec} 2> {prep}/chorales/image_codec.log",
        f".venv/bin/mt3u train-codec --gin-file={DEMO_AUDIO_CODEC} --workdir={audio} "
        f"{codec} 2> {prep}/chorales/audio_codec.log",
        ".venv/bin/mt3u bake --corpus synthetic_scores/chorales --data-dir data "
        f"--image-workdir {image} --audio-workdir {audio} "
        "--output-dir data/baked/synthetic_scores/chorales "
        f"--report {outputs}/codecs_chorales.html",
    ]
    curves = f".venv/bin/mt3u report curves {{}} --task {{}} -o {outputs}/levers/{{}}"

    def steps_curve(name: str, output: str, suffixes=STEPS_SUFFIXES) -> list[str]:
        return [  # SER against the steps, the target dashed
            ".venv/bin/mt3u report step-curve "
            + " ".join(f"--eval {chorales}/eval_{name}{k}_{split}_all" for k in suffixes)
            + f' --pair image_to_lmx --metric "SER (%)" --target 40 '
            f"-o {outputs}/levers/{output}_{split}.png"
            for split in ("test", "test_heldout")
        ]

    rows_steps = steps_curve("omr_rows", "chorales_omr_rows_steps")  # the chorales' rows

    def every_system(name: str, config: str = "chorales") -> list[str]:  # an OMR lever, all
        model, table = f"{runs}/{config}/compare/{name}/model", f"{outputs}/compare_{config}"
        return [
            _eval(model, f"{table}/eval_{name}_{split}_all", split, "image_to_lmx", 1000)
            for split in ("test", "test_heldout")
        ]

    def chorales_omr_lever(name: str, gin: str) -> list[str]:  # read on 32 systems, then all
        model = f"{runs}/chorales/compare/{name}/model"
        return [
            *chorales_prep,
            _train(prep / "chorales", model, "synthetic_chorales_omr", gin=gin),
            _eval(model, f"{chorales}/eval_{name}", "test", "image_to_lmx"),
            _eval(model, f"{chorales}/eval_{name}_heldout", "test_heldout", "image_to_lmx"),
            *every_system(name),
        ]

    def dropout_chain(name: str, chain) -> list[str]:  # a lever, trained on, its step curve
        return [
            *chorales_omr_lever(name, f"demo_{name[4:]}"),
            *(
                line
                for k, source, steps in chain
                for line in (
                    *resumed(
                        f"{name}{k}",
                        f"{runs}/chorales/compare/{name}{source}/model",
                        "chorales",
                        "omr",
                        steps,
                        gin=f"demo_{name[4:]}",
                    ),
                    *every_system(f"{name}{k}"),
                )
            ),
            *steps_curve(name, f"chorales_{name}_steps", ("", *(k for k, _, _ in chain))),
        ]

    wide_rows = [  # the rows twice as wide (9,000 steps; with dropout 22,000), d256 (18,000)
        *chorales_omr_lever("omr_rows_128", "demo_rows_128"),
        *resumed(
            "omr_rows_128_9k",
            f"{runs}/chorales/compare/omr_rows_128/model",
            "chorales",
            "omr",
            9000,
            gin="demo_rows_128",
        ),
        *every_system("omr_rows_128_9k"),
        *dropout_chain("omr_rows_128_dropout", DROPOUT_STEPS),
        *dropout_chain("omr_rows_256_dropout", DROPOUT_256_STEPS),
    ]
    chorales3 = f"{runs}/chorales3/compare/omr_rows_256_dropout/model"
    table3 = f"{outputs}/compare_chorales3/eval_omr_rows_256_dropout"
    more_renderings = [  # d256 with dropout on chorales3: the chorales' codecs copied first
        *(
            line
            for gin in ("gin/codecs/rqvae_demo.gin", DEMO_AUDIO_CODEC)
            for line in (
                f"mkdir -p {prep}/chorales3/codecs",
                f"cp -rT {_codec_dir(prep / 'chorales', gin)} "
                f"{_codec_dir(prep / 'chorales3', gin)}",
            )
        ),
        *(line.replace("chorales", "chorales3") for line in chorales_prep),  # no markers: dry
        _train(
            prep / "chorales3", chorales3, "synthetic_chorales3_omr", gin="demo_rows_256_dropout"
        ),
        _eval(chorales3, table3, "test", "image_to_lmx"),
        _eval(chorales3, f"{table3}_heldout", "test_heldout", "image_to_lmx"),
        *every_system("omr_rows_256_dropout", "chorales3"),
        *resumed(  # on to 9,000 steps, read on every system
            "omr_rows_256_dropout_9k", chorales3, "chorales3", "omr", 9000, "demo_rows_256_dropout"
        ),
        *every_system("omr_rows_256_dropout_9k", "chorales3"),
    ]
    assert out.splitlines() == [
        "bash launch/setup_env.sh",
        *skipped,
        *(
            f"# amt_mel_{n}: done before ({amt_mel}/stages/amt_mel_{n}.done); skipped"
            for n in lever_done
        ),  # fmt: skip
        *pair_lever("amt_mel_256", "demo_amt_mel_256", "amt", "audio_to_midi"),
        *pair_lever("amt_mel_50", "demo_amt_mel_50", "amt", "audio_to_midi"),
        *skipped,
        *(f"# omr_{n}: done before ({demo_omr}/stages/omr_{n}.done); skipped" for n in lever_done),
        *omr_lever("omr_rows", "demo_rows"),
        *omr_lever("omr_strips", "demo_omr_strips"),
        *omr_lever("omr_strips_128", "demo_omr_strips_128"),
        *chorales_prep,
        _train(prep / "chorales", omr, "synthetic_chorales_omr"),
        _eval(omr, f"{chorales}/eval_omr", "test", "image_to_lmx"),
        _eval(omr, f"{chorales}/eval_omr_heldout", "test_heldout", "image_to_lmx"),
        *chorales_prep,  # a dry run writes no marker: the next chorales lever prints them too
        _train(prep / "chorales", chorales_rows, "synthetic_chorales_omr", gin="demo_rows"),
        _eval(chorales_rows, f"{chorales}/eval_omr_rows", "test", "image_to_lmx"),
        _eval(chorales_rows, f"{chorales}/eval_omr_rows_heldout", "test_heldout", "image_to_lmx"),
        *(  # both read on every system
            _eval(model, f"{chorales}/eval_{name}_{split}_all", split, "image_to_lmx", 1000)
            for name, model in [("omr", omr), ("omr_rows", chorales_rows)]
            for split in ("test", "test_heldout")
        ),
        *(  # the rows on to 9,000 and 12,000 steps, each read on every system
            line
            for name, source, steps in [
                ("omr_rows_9k", chorales_rows, 9000),
                ("omr_rows_12k", f"{runs}/chorales/compare/omr_rows_9k/model", 12000),
                ("omr_rows_18k", f"{runs}/chorales/compare/omr_rows_12k/model", 18000),
            ]
            for line in [
                *resumed(name, source, "chorales", "omr", steps),
                *(
                    _eval(
                        f"{runs}/chorales/compare/{name}/model",
                        f"{chorales}/eval_{name}_{split}_all",
                        split,
                        "image_to_lmx",
                        1000,
                    )
                    for split in ("test", "test_heldout")
                ),
            ]
        ),  # fmt: skip
        *rows_steps,
        *wide_rows,
        *more_renderings,
        *chorales_prep,
        _train(prep / "chorales", patches, "synthetic_chorales_omr", gin="demo_omr_patch_256"),
        _eval(patches, f"{chorales}/eval_omr_patch_256", "test", "image_to_lmx"),
        _eval(patches, f"{chorales}/eval_omr_patch_256_heldout", "test_heldout", "image_to_lmx"),
        # systems only, no codecs, no bake
        ".venv/bin/mt3u build synthetic --config music21 --data-dir data --no-pieces",
        _train(
            prep / "music21",
            music21,
            "synthetic_music21_omr",
            gin="demo_omr_patch_256",
            codebooks=False,
        ),  # fmt: skip
        _eval(music21, f"{outputs}/compare_music21/eval_omr_patch_256", "test", "image_to_lmx"),
        _eval(
            music21,
            f"{outputs}/compare_music21/eval_omr_patch_256_heldout",
            "test_heldout",
            "image_to_lmx",
        ),  # fmt: skip
        _eval(
            music21,
            f"{outputs}/compare_music21/eval_omr_patch_256_synthetic_chorales",
            "test",
            "image_to_lmx",
            flags="--dataset synthetic_chorales",
        ),  # fmt: skip
        *judged_codecs("amt_mel_256", [DEMO_AUDIO_CODEC_NAME, *CODEC_LEVERS]),
        *judged_codecs("amt_mel", TINY_JUDGED_CODECS),
        f".venv/bin/mt3u train-codec --gin-file=gin/codecs/audio_demo_curve.gin "
        f"--workdir={curve_codec} {codec.replace('chorales', 'demo')} "
        f"2> {prep}/demo/audio_demo_curve.log",
        *(
            _eval(
                d256,
                f"{table}/eval_amt_mel_256_audio_demo_curve_{step}",
                "test",
                "audio_to_midi",
                flags=f"--audio-codec {curve_codec}/checkpoints/{step}",
            )
            for step in CURVE_STEPS
        ),
        ".venv/bin/mt3u report codec-curve "
        + " ".join(
            f"--point {n}={table}/eval_amt_mel_256_audio_demo_curve_{n}" for n in CURVE_STEPS
        )
        + f" -o {outputs}/levers/audio_demo_curve.png",
        ".venv/bin/mt3u report codec-spectra --config demo --data-dir data --example 3 "
        + " ".join(
            f'--codec "{label}={_codec_dir(prep / "demo", f"gin/codecs/{gin}.gin")}"'
            for label, gin in SPECTRA
        )
        + f" -o {outputs}/levers/codec_spectra.png",
        *judged("synthesis_judged", d256),
        *judged("synthesis_judged_sampled", f"{d256} {SAMPLED}"),
        # the tiny log-mel AMT as judge: the all-task model, then MIDI -> audio alone
        *judged("synthesis_judged_tiny", f"{amt_mel}/model"),
        *judged("synthesis_judged_tiny_sampled", f"{amt_mel}/model {SAMPLED}"),
        *audio_alone("synthesis", "demo", "midi_to_audio"),
        # image -> audio alone with the rows, sampled on seeds 0, 1 and 2
        *audio_alone("image_to_audio_rows", "demo_rows", "image_to_audio", seeds=(1, 2)),
        # ... trained on to 9,000 and 18,000 steps, sampled on seeds 0, 1 and 2; its curve
        *audio_resumed("image_to_audio_rows_9k", "image_to_audio_rows", 9000),
        *audio_resumed("image_to_audio_rows_18k", "image_to_audio_rows_9k", 18000),
        step_curve,
        # the paper's image -> audio mixtures with the rows
        *image_to_audio_mixture("omr_i2a_rows", "omr_i2a"),
        *image_to_audio_mixture("omr_i2a_synth_rows", "omr_i2a_synth"),
        # ... and AMT beside audio -> image on log-mel at 50 frames a second
        *amt_mixture("amt_a2i_mel", "amt_a2i"),
        *amt_mixture("amt_a2i_engrave_mel", "amt_a2i_engrave"),
        # ... beside the tasks alone: OMR alone with the rows read on every system first
        *(
            _eval(omr_rows, f"{table}/eval_omr_rows_{split}_all", split, "image_to_lmx", 1000)
            for split in ("test", "test_heldout")
        ),
        mixtures_table(
            "paper_mixtures_image_to_audio.md",
            "OMR alone=omr_rows_test*_all",
            "image -> audio alone=image_to_audio_rows_sampled",
            "image -> audio alone=image_to_audio_rows_sampled_seed[12]",
            "OMR, image -> audio=omr_i2a_rows*",
            "OMR, image -> audio, MIDI -> audio=omr_i2a_synth_rows*",
        ),
        mixtures_table(
            "paper_mixtures_audio_to_image.md",
            "AMT alone=amt_mel_50*",
            "AMT, audio -> image=amt_a2i_mel*",
            "AMT, audio -> image, engraving=amt_a2i_engrave_mel*",
        ),
        *all_task_lever("all_d128", "demo_128"),
        *all_task_lever("all_rows", "demo_rows"),
        *all_task_lever("all_rows_omr3", "demo_rows_omr3"),
        *all_task_lever("all_mel", "demo_mel"),
        *all_task_lever("all_mel_amt3", "demo_mel_amt3"),
        *all_task_lever("all_lr3e3", "demo_lr3e3"),
        _eval(
            f"{runs}/demo/compare/all_lr3e3/model",
            f"{table}/eval_all_lr3e3_synthesis_judged_tiny_sampled",
            "test",
            "midi_to_audio,image_to_audio",
            flags=f"--transcriber {amt_mel}/model {SAMPLED}",
        ),  # fmt: skip
        # audio -> image read by OMR alone with the rows: the all-task model, greedy then
        # sampled, then the task alone, greedy then sampled
        _train(prep / "demo", f"{runs}/demo/model", "synthetic_demo_all"),
        *images_judged("images_judged_rows", f"{runs}/demo/model"),
        _train(prep / "demo", f"{runs}/demo/model", "synthetic_demo_all"),
        *images_judged("images_judged_rows_sampled", f"{runs}/demo/model", IMAGE_SAMPLED),
        *skipped,
        _train(prep / "demo", a2i, "synthetic_demo_audio_to_image_train"),
        *images_judged("audio_to_image", a2i),
        *images_judged("audio_to_image_sampled", a2i, IMAGE_SAMPLED),
        curves.format(
            f'--run "tiny, log-mel={amt_mel}/model" --run "d256, log-mel={d256}"',
            "audio_to_midi",
            "amt_curves.png",
        ),
        curves.format(
            f'--run "demo (136 chorales)={demo_omr}/model" --run "chorales (408)={omr}" '
            f'--run "chorales, d256 on patches={patches}" '
            f'--run "music21, d256 on patches={music21}"',
            "image_to_lmx",
            "omr_curves.png",
        ),
        curves.format(
            f"--run tiny={runs}/chorales/compare/omr_rows_18k/model "
            f"--run d128={runs}/chorales/compare/omr_rows_128_9k/model "
            f'--run "d128, dropout 0.1={runs}/chorales/compare/omr_rows_128_dropout_22k/model" '
            f'--run "d256, dropout 0.1={runs}/chorales/compare/omr_rows_256_dropout_18k/model"',
            "image_to_lmx",
            "chorales_omr_rows_curves.png",
        ),
    ]
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_levers_judge_every_codec_with_the_judge_step_given(tmp_path):
    out = _stages(tmp_path, "levers.sh", {}, PREP_ROOT=f"{tmp_path}/p", JUDGE_STEP="1500")
    judged = [line for line in out.splitlines() if "--audio-codec" in line]
    assert len(judged) == 1 + len(CODEC_LEVERS) + len(TINY_JUDGED_CODECS) + len(CURVE_STEPS)
    assert all(" --step 1500 " in line for line in judged)
    assert out.count(" --step ") == len(judged)  # the other evaluations take the latest


@pytest.mark.parametrize("marker", ["corpus", "corpus_systems"])
def test_levers_build_music21_systems_once_under_their_own_marker(tmp_path, marker):
    # prep_stages' `corpus` means the pieces too, so the systems-only build has its own
    # marker; a corpus built whole also holds the systems.
    build = ".venv/bin/mt3u build synthetic --config music21 --data-dir data --no-pieces"
    assert build in _stages(tmp_path / "fresh", "levers.sh", {}, PREP_ROOT=f"{tmp_path}/fresh/p")
    out = _stages(tmp_path, "levers.sh", {"p/music21/stages": [marker]},
                  PREP_ROOT=f"{tmp_path}/p")  # fmt: skip
    assert build not in out
    systems_skipped = f"# corpus_systems: done before ({tmp_path}/p/music21/stages/"
    assert (systems_skipped in out) == (marker == "corpus_systems")


def test_levers_take_no_prep_run():
    env = {"PREP_RUN": "x", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["bash", str(ROOT / "launch" / "levers.sh"), "--dry-run"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert "set PREP_ROOT instead" in done.stderr


@pytest.mark.parametrize("script", ["demo.sh", "compare_mixtures.sh", "levers.sh"])
def test_the_stage_scripts_take_only_dry_run(script):
    done = subprocess.run(["bash", str(ROOT / "launch" / script), "--dry"],
                          capture_output=True, text=True)  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"{script}: unknown argument --dry (the only one is --dry-run)\n"


def test_the_stages_evaluate_the_held_out_style_of_exactly_the_configs_that_hold_one_out():
    # demo_stages.sh lists them in bash (it runs before the venv exists); this keeps the
    # list equal to corpus/synthetic.py's configs with a held-out rendering style.
    from mt3_unified.corpus.synthetic import CONFIGS

    script = (ROOT / "launch" / "demo_stages.sh").read_text()
    line = next(ln for ln in script.splitlines() if "HELDOUT=1" in ln and ln.startswith("case"))
    listed = set(line.split(" in ", 1)[1].split(")", 1)[0].strip().split("|"))
    assert listed == {name for name, c in CONFIGS.items() if c.heldout_style is not None}
