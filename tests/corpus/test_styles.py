"""Rendering styles: chosen per piece by a hash, applied to images and audio, one held out."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from mt3_unified.corpus import synthetic
from mt3_unified.corpus.piece import build_piece
from mt3_unified.corpus.splits import HELDOUT_SPLIT, SPLITS, split_by_hash
from mt3_unified.corpus.styles import (
    DEFAULT_STYLE,
    HELDOUT_STYLE,
    TRAINING_STYLES,
    RenderingStyle,
    apply_audio_style,
    choose_style,
    curve_velocity,
    degrade_png,
    styled_piece_config,
)
from mt3_unified.corpus.systems import music_fonts

from .conftest import needs_fluidsynth

DEMO = synthetic.DEMO
ROUGH = RenderingStyle("rough", blur=1.0, pixel_noise=10.0, rotation=0.5, contrast=0.3)


def test_style_choice_is_deterministic_and_covers_every_training_style():
    ids = [piece_id for piece_id, _ in synthetic.list_sources(DEMO)]
    chosen = [choose_style(DEMO.styles, p) for p in ids]
    assert chosen == [choose_style(DEMO.styles, p) for p in reversed(ids)][::-1]
    assert {s.name for s in chosen} == {s.name for s in TRAINING_STYLES}
    assert max(chosen.count(s) for s in TRAINING_STYLES) < len(ids) / 3  # spread, not lumped
    assert choose_style((), "bach/bwv66.6.mxl") is None
    assert choose_style(DEMO.styles, ids[0], seed=1) != choose_style(DEMO.styles, ids[0]) or (
        choose_style(DEMO.styles, ids[1], seed=1) != choose_style(DEMO.styles, ids[1])
    )


def test_styles_use_bundled_fonts_and_the_held_out_one_shares_neither_font_nor_program():
    fonts = set(music_fonts())
    assert {"Leipzig", "Bravura", "Gootville", "Leland", "Petaluma"} <= fonts
    assert all(s.font in fonts for s in (*TRAINING_STYLES, HELDOUT_STYLE))
    assert len({s.name for s in TRAINING_STYLES}) == len(TRAINING_STYLES) >= 5
    assert len({s.font for s in TRAINING_STYLES}) >= 4
    assert {s.program for s in TRAINING_STYLES} <= set(range(8))
    assert len({s.program for s in TRAINING_STYLES}) >= 5
    assert HELDOUT_STYLE.font not in {s.font for s in TRAINING_STYLES}
    assert HELDOUT_STYLE.program not in {s.program for s in TRAINING_STYLES}
    with pytest.raises(ValueError, match="also a training style"):
        dataclasses.replace(DEMO, heldout_style=TRAINING_STYLES[0])


def test_the_held_out_style_renders_the_test_pieces_again_and_nothing_else():
    sources = synthetic.list_sources(DEMO)
    keys = [key for key, _ in synthetic.renderings(DEMO, sources)]
    assert keys[: len(sources)] == [piece_id for piece_id, _ in sources]
    by_split: dict[str, set[str]] = {}
    for key in keys:
        split, style = synthetic.split_of(DEMO, key), synthetic.style_name(DEMO, key)
        by_split.setdefault(split, set()).add(style)
        piece_id, config = synthetic.rendering(DEMO, key)
        assert config.style.name == style and config.performance.program == config.style.program
        if split == HELDOUT_SPLIT:
            assert style == HELDOUT_STYLE.name and split_by_hash(piece_id) == "test"
        else:
            assert style != HELDOUT_STYLE.name and split == split_by_hash(piece_id)
    assert set(by_split) == {*SPLITS, HELDOUT_SPLIT}
    assert by_split[HELDOUT_SPLIT] == {HELDOUT_STYLE.name}
    assert DEMO.splits == (*SPLITS, HELDOUT_SPLIT)
    test_pieces = {p for p, _ in sources if split_by_hash(p) == "test"}
    held = {synthetic.rendering(DEMO, k)[0] for k in keys if k not in dict(sources)}
    assert held == test_pieces
    # Configs without styles render as before: one split each, the default style.
    tiny = synthetic.CONFIGS["tiny"]
    assert tiny.splits == SPLITS
    for piece_id, _ in synthetic.list_sources(tiny):
        assert synthetic.rendering(tiny, piece_id) == (piece_id, tiny.piece)
        assert synthetic.style_name(tiny, piece_id) == DEFAULT_STYLE


def test_demo_sources_are_a_fixed_spread_of_the_bach_chorales():
    sources = synthetic.list_sources(DEMO)
    assert sources == synthetic.list_sources(DEMO)
    assert len(sources) == 136
    ids = [piece_id for piece_id, _ in sources]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(p.startswith("bach/bwv") and p.endswith(".mxl") for p in ids)
    every = sorted(synthetic.music21_corpus_dir().glob("bach/bwv*.mxl"))
    assert ids[:3] == [f"bach/{p.name}" for p in every[:7:3]]
    splits = [split_by_hash(p) for p in ids]
    assert all(splits.count(s) >= 10 for s in SPLITS)
    assert DEMO.piece.layout.page_width == 1000 and DEMO.piece.image_height == 128


def test_chorales_hold_every_chorale_and_demos_pieces_in_the_same_style_and_split():
    chorales = synthetic.CONFIGS["chorales"]
    ids = [piece_id for piece_id, _ in synthetic.list_sources(chorales)]
    assert len(ids) == 408 and ids == sorted(ids)
    demo_ids = [piece_id for piece_id, _ in synthetic.list_sources(DEMO)]
    assert demo_ids == ids[::3]
    assert chorales.splits == DEMO.splits and chorales.piece == DEMO.piece
    assert [synthetic.style_name(chorales, p) for p in demo_ids] == [
        synthetic.style_name(DEMO, p) for p in demo_ids
    ]


def test_music21_holds_every_chorale_in_its_chorales_split_and_style_and_more():
    music21, chorales = synthetic.CONFIGS["music21"], synthetic.CONFIGS["chorales"]
    ids = [piece_id for piece_id, _ in synthetic.list_sources(music21)]
    chorale_ids = [piece_id for piece_id, _ in synthetic.list_sources(chorales)]
    assert set(chorale_ids) < set(ids) and len(ids) > 4 * len(chorale_ids)
    assert music21.splits == chorales.splits and music21.piece == chorales.piece
    # a piece's split is its id's hash: a model trained on music21's train split has seen
    # none of the chorales' test pieces (evaluated with --dataset synthetic_chorales)
    assert sum(split_by_hash(p) == "test" for p in chorale_ids) >= 10
    assert [synthetic.style_name(music21, p) for p in chorale_ids] == [
        synthetic.style_name(chorales, p) for p in chorale_ids
    ]


def test_chorales3_renders_each_training_piece_in_three_styles_and_keeps_the_other_splits():
    chorales3, chorales = synthetic.CONFIGS["chorales3"], synthetic.CONFIGS["chorales"]
    sources = synthetic.list_sources(chorales3)
    assert sources == synthetic.list_sources(chorales) and len(sources) == 408
    keys = [key for key, _ in synthetic.renderings(chorales3, sources)]
    one = [key for key, _ in synthetic.renderings(chorales, sources)]
    train = [p for p, _ in sources if split_by_hash(p) == "train"]
    assert (len(train), len(one), len(keys)) == (325, 458, 458 + 2 * 325)
    assert len(set(keys)) == len(keys) and set(one) < set(keys)

    def styles_of(piece_id):
        return [
            synthetic.style_name(chorales3, k)
            for k in keys
            if synthetic.rendering(chorales3, k)[0] == piece_id
        ]

    # Its own style, then the next two in the tuple's order (wrapping round).
    assert styles_of("bach/bwv66.6.mxl") == [
        "bravura_bright",
        "leland_electric_grand",
        "gootville_honky_tonk",
    ]
    assert styles_of("bach/bwv153.1.mxl") == [
        "leland_harpsichord",
        "leipzig_clavinet",
        "leipzig_grand",
    ]
    assert styles_of("bach/bwv86.6.mxl") == ["bravura_electric_piano"]  # validation: one
    for key in keys:
        piece_id, config = synthetic.rendering(chorales3, key)
        if key not in one:  # a training piece in a further style
            assert key == f"{piece_id}@{config.style.name}"
            assert synthetic.split_of(chorales3, key) == "train" == split_by_hash(piece_id)
            assert config.style.name != synthetic.style_name(chorales, piece_id)
        else:  # every rendering of `chorales` is the same here, split and style
            assert synthetic.split_of(chorales3, key) == synthetic.split_of(chorales, key)
            assert (piece_id, config) == synthetic.rendering(chorales, key)
    # A key in a style the piece is not rendered in names no rendering.
    assert synthetic._marked(chorales3, "bach/bwv66.6.mxl@leipzig_grand") is None
    assert synthetic._marked(chorales3, "bach/bwv86.6.mxl@leland_electric_grand") is None
    assert synthetic.work_dir(chorales3, "d") != synthetic.work_dir(chorales, "d")
    for bad in (0, len(TRAINING_STYLES) + 1):
        with pytest.raises(ValueError, match="renderings_per_piece"):
            dataclasses.replace(DEMO, renderings_per_piece=bad)
    with pytest.raises(ValueError, match="renderings_per_piece"):
        dataclasses.replace(synthetic.CONFIGS["tiny"], renderings_per_piece=2)  # no styles


@needs_fluidsynth
def test_a_training_piece_rendered_in_two_styles_reads_the_same_music(tmp_path):
    config = dataclasses.replace(DEMO, name="demo2", renderings_per_piece=2)
    piece_id = "bach/bwv66.6.mxl"  # a training piece
    sources = [(piece_id, synthetic.music21_corpus_dir() / piece_id)]
    summary = synthetic.prepare(config, tmp_path, progress=False, sources=sources)
    assert (summary["pieces"], summary["renderings"]) == (1, 2)
    styles = ["bravura_bright", "leland_electric_grand"]
    assert sorted(summary["systems_by_style"]) == styles
    assert summary["systems_by_split"] == {"train": summary["systems"]}
    keys = [piece_id, f"{piece_id}@leland_electric_grand"]
    results = dict(synthetic.iter_results(config, tmp_path, [(k, sources[0][1]) for k in keys]))
    a, b = (results[k].piece for k in keys)
    assert (a["piece_id"], b["piece_id"]) == (piece_id, piece_id)
    assert [a["style"], b["style"]] == styles
    assert a["lmx"] == b["lmx"]  # the same score,
    assert np.array_equal(a["notes"]["onset"], b["notes"]["onset"])  # the same performance,
    first = [r.systems[0]["image"] for r in results.values()]
    assert first[0] != first[1]  # engraved and played another way
    assert not np.array_equal(a["audio"], b["audio"])


def test_styled_config_sets_font_program_and_a_page_width_of_its_own():
    base = DEMO.piece
    a = styled_piece_config(base, TRAINING_STYLES[1], "bach/bwv66.6.mxl")
    assert a == styled_piece_config(base, TRAINING_STYLES[1], "bach/bwv66.6.mxl")
    assert a.layout.font == TRAINING_STYLES[1].font and a.performance.program == 1
    assert a.style is TRAINING_STYLES[1] and base.style is None
    widths = {
        styled_piece_config(base, TRAINING_STYLES[1], f"piece{i}").layout.page_width
        for i in range(20)
    }
    assert len(widths) > 5
    jitter = TRAINING_STYLES[1].page_width_jitter
    assert all(abs(w - 1000) <= 1000 * jitter + 5 and w % 10 == 0 for w in widths)


def test_a_degraded_image_differs_but_keeps_its_shape_and_range(chorale):
    clean = chorale.systems[0]["image"]
    degraded = degrade_png(clean, ROUGH, seed=3)
    before, after = (np.asarray(Image.open(io.BytesIO(png))) for png in (clean, degraded))
    assert Image.open(io.BytesIO(degraded)).mode == "L"
    assert after.shape == before.shape and after.dtype == np.uint8
    assert not np.array_equal(after, before)
    assert np.abs(after.astype(int) - before).mean() < 40  # light: the score still reads
    assert after.min() < 100 and np.median(after) > 180  # dark ink on light paper
    assert degrade_png(clean, ROUGH, seed=3) == degraded
    assert degrade_png(clean, ROUGH, seed=4) != degraded
    assert degrade_png(clean, RenderingStyle("clean"), seed=3) == clean


def test_audio_effects_keep_the_length_and_add_no_sound_before_the_first_note():
    audio = np.zeros(16000, np.float32)
    audio[8000:8100] = 0.5
    style = RenderingStyle("room", reverb=0.3, reverb_seconds=0.5, gain_db=-6.0)
    wet = apply_audio_style(audio, style, 16000, seed=0)
    assert wet.shape == audio.shape and wet.dtype == np.float32
    assert np.abs(wet[:8000]).max() < 1e-6  # the reverb is causal (FFT round-off aside)
    assert np.abs(wet[8200:]).max() > 1e-3  # and it rings on after the sound
    assert np.array_equal(wet, apply_audio_style(audio, style, 16000, seed=1))
    noisy = dataclasses.replace(style, noise_db=-60.0)
    a, b = (apply_audio_style(audio, noisy, 16000, seed=s) for s in (0, 1))
    assert np.abs(a[:8000]).max() < 0.01 and not np.array_equal(a, b)
    assert apply_audio_style(audio, RenderingStyle("dry"), 16000, seed=0) is audio


def test_velocity_curve():
    assert [curve_velocity(v, 1.0) for v in (1, 64, 127)] == [1, 64, 127]
    soft = [curve_velocity(v, 1.3) for v in range(1, 128)]
    assert soft == sorted(soft) and min(soft) >= 1 and soft[-1] == 127 and soft[63] < 64
    assert curve_velocity(64, 0.7) > 64


@needs_fluidsynth
def test_a_piece_in_the_held_out_style_names_its_style_and_labels_its_notes_piano():
    piece_id = "bach/bwv110.7.mxl"  # a test piece
    key = f"{piece_id}@{HELDOUT_STYLE.name}"
    assert synthetic.split_of(DEMO, key) == HELDOUT_SPLIT
    path = synthetic.music21_corpus_dir() / piece_id
    result = build_piece(path, *synthetic.rendering(DEMO, key))
    assert result.piece["piece_id"] == piece_id and result.piece["style"] == HELDOUT_STYLE.name
    plain = build_piece(path, piece_id, DEMO.piece)
    assert plain.piece["style"] == DEFAULT_STYLE
    # The audio plays the style's program; the notes are labelled piano all the same.
    assert set(result.piece["notes"]["program"]) == {0}
    # Same performance (seeded by the piece id), velocities through the style's curve.
    assert np.array_equal(result.piece["notes"]["onset"], plain.piece["notes"]["onset"])
    curved = [
        curve_velocity(v, HELDOUT_STYLE.velocity_exponent) for v in plain.piece["notes"]["velocity"]
    ]
    assert list(result.piece["notes"]["velocity"]) == curved
    sr = DEMO.piece.sample_rate
    for system in result.systems:
        image = np.asarray(Image.open(io.BytesIO(system["image"])))
        assert image.shape[0] == 128 and image.shape[1] % 16 == 0
        assert set(system["notes"]["program"]) == {0}
        assert len(system["audio"]) == round((system["duration"] + DEMO.piece.tail_seconds) * sr)
    durations = [float(s["duration"]) for s in result.systems]
    assert 2.0 < np.mean(durations) < 7.0  # a few measures a system
    again = build_piece(path, *synthetic.rendering(DEMO, key))  # seeded: the same bytes
    for a, b in zip(result.systems, again.systems, strict=True):
        assert a["image"] == b["image"] and a["audio"].tobytes() == b["audio"].tobytes()
