"""Install mt3-unified: one seq2seq transformer for score images, LMX, MIDI and audio."""

from setuptools import find_packages, setup

# Every dependency is pinned to a release that installs from PyPI on Python 3.11.
# TensorFlow is asked for as `tensorflow` (seqio depends on the full package;
# asking for `tensorflow-cpu` beside it would install TensorFlow twice).
INSTALL_REQUIRES = [
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "orbax-checkpoint==0.12.8",
    "clu==0.0.12",
    # clu.metric_writers writes TensorBoard events through tensorboard's summary ops.
    "tensorboard==2.21.0",
    "seqio==0.0.20",
    "tensorflow==2.21.0",
    "tensorflow-text==2.21.1",
    "tensorflow-datasets==4.9.10",
    # apache-beam needs protobuf < 7, and sentencepiece (seqio's) built after
    # 0.2.0 needs protobuf >= 7: these three pins are the set that resolves.
    "apache-beam==2.77.0",
    "protobuf==6.33.6",
    "sentencepiece==0.2.0",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "note-seq==0.0.5",
    "pretty-midi==0.2.11.post0",
    "mido==1.3.3",
    "mir_eval==0.8.2",
    "gin-config==0.5.0",
    "verovio==6.4.1",
    "cairosvg==2.9.1",
    "cairocffi==1.7.1",
    "cffi==2.1.1",
    "pillow==12.3.0",
    "music21==10.5.1",
    "soundfile==0.14.0",
    "librosa==0.11.0",
    "matplotlib==3.11.2",
    "defusedxml==0.7.1",
    "editdistance==0.8.1",
    "tqdm==4.70.1",
    # Inference: resampling one's own recordings; rasterizing PDF scores (PDFium).
    "soxr==1.1.0",
    "pypdfium2==5.15.2",
]

EXTRAS_REQUIRE = {
    # portpicker: the multi-process training test picks its coordinator port with it.
    # selenium: the report test drives Debian's headless chromium through chromedriver
    # (4.52 needs a certifi newer than the registry serves).
    "dev": ["portpicker==1.6.0", "pytest==9.2.0", "ruff==0.17.6", "selenium==4.51.0"],
    # bench/hf_t5_baseline.py: HuggingFace T5 on PyTorch's CPU build (plain `torch`
    # would pull the multi-GB CUDA build).
    "bench": ["torch==2.13.0", "transformers==5.23.0"],
    # codecs/dac_convert.py: loading a Descript Audio Codec checkpoint needs PyTorch only.
    # (descript-audio-codec itself, for its test, installs with --no-deps: its audiotools
    # pins protobuf < 3.20 against this project's 6.x; see the README.)
    "dac": ["torch==2.13.0"],
}

setup(
    name="mt3-unified",
    version="0.1.0",
    description=(
        "Unified cross-modal translation of score images, symbolic music and "
        "performance audio with one JAX/Flax sequence-to-sequence transformer."
    ),
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["mt3_unified", "mt3_unified.*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["mt3u=mt3_unified.cli:main"]},
)
