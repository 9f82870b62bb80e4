"""The unified id layout: one id space for every modality's tokens, without TensorFlow.

Id layout (ranges are half-open, in this order; sizes shown for the default
config: 4 x 1024 image and audio codebooks, MT3-style MIDI events)::

    0                   <pad>
    1                   </s>      (EOS)
    2                   <unk>
    3                   <sep>
    4 .. 4+T            one task token per ordered modality pair, <task:image_to_lmx> ...
    .. +M               one target-modality token per modality, <to:lmx> ...
    LMX range           the 224 LMX tokens, in LMX_TOKENS order
    MIDI range          the MIDI event codec's ids, in its order, named "midi:<event>"
    image codebook 0    "img0:0" .. "img0:1023", then codebook 1, 2, 3
    audio codebook 0    "aud0:0" .. "aud0:1023", then codebook 1, 2, 3
    padding             unused ids up to a multiple of 128 (never valid output)

Every id has a unique string name, so `encode`/`decode` work on
whitespace-separated token strings of any modality, in Python and in TF graphs.
Symbolic outputs use one id per step; image and audio outputs are frames of K
codes whose codebook k lives in its own range. The output layer is masked with
`logit_mask(modality, codebook)`: the modality's (codebook's) range plus EOS,
where EOS may end a sequence only in slot 0 of a frame.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable, Sequence

import gin
import numpy as np

from mt3_unified.errors import VocabularyError
from mt3_unified.vocab import midi_events
from mt3_unified.vocab.lmx.tokens import LMX_TOKENS

PAD_ID, EOS_ID, UNK_ID, SEP_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>", "<sep>")

MODALITIES = ("image", "lmx", "midi", "audio")
SYMBOLIC_MODALITIES = ("lmx", "midi")
CODE_MODALITIES = ("image", "audio")
# Every ordered pair of distinct modalities is a task the model can be asked for.
TASKS = tuple(f"{src}_to_{tgt}" for src, tgt in itertools.permutations(MODALITIES, 2))
# The paper's names for the tasks people use most.
TASK_ALIASES = {
    "omr": "image_to_lmx",
    "engrave": "lmx_to_image",
    "amt": "audio_to_midi",
    "synth": "midi_to_audio",
    "lmx2midi": "lmx_to_midi",
    "midi2lmx": "midi_to_lmx",
    "i2a": "image_to_audio",
    "a2i": "audio_to_image",
}
VOCAB_MULTIPLE = 128
# The paper's RVQ shape for both image and audio codes: 4 codebooks of 1024 codes.
# The one place these defaults are written; codecs and the CLI import them.
DEFAULT_CODEBOOKS = 4
DEFAULT_CODEBOOK_SIZE = 1024


@gin.configurable
@dataclasses.dataclass(frozen=True)
class VocabularyConfig:
    """Sizes of the code ranges and the MIDI event codec's settings, bound from gin.

    ``VocabularyConfig()`` takes gin's bindings (``VocabularyConfig.image_codebooks = 2``),
    and its ``midi`` default takes ``MidiEventConfig``'s.
    """

    image_codebooks: int = DEFAULT_CODEBOOKS
    image_codebook_size: int = DEFAULT_CODEBOOK_SIZE
    audio_codebooks: int = DEFAULT_CODEBOOKS
    audio_codebook_size: int = DEFAULT_CODEBOOK_SIZE
    midi: midi_events.MidiEventConfig = dataclasses.field(
        default_factory=midi_events.MidiEventConfig
    )

    def codebooks(self, modality: str) -> tuple[int, int]:
        """(number of codebooks, codebook size) of an image or audio modality."""
        if modality == "image":
            return self.image_codebooks, self.image_codebook_size
        if modality == "audio":
            return self.audio_codebooks, self.audio_codebook_size
        raise VocabularyError(f"{modality!r} has no codebooks; use one of {CODE_MODALITIES}")


_CODE_PREFIX = {"image": "img", "audio": "aud"}


def _code_token(modality: str, codebook: int, code: int) -> str:
    return f"{_CODE_PREFIX[modality]}{codebook}:{code}"


class VocabularyLayout:
    """Maps the tokens of LMX, MIDI events, image codes and audio codes to one id space.

    Pure Python and NumPy, so the model and the benchmarks run where TensorFlow
    is not installed (a GPU host); `unified.UnifiedVocabulary` adds seqio's API.
    """

    def __init__(self, config: VocabularyConfig | None = None):
        self.config = config or VocabularyConfig()
        self.midi_codec = midi_events.EventCodec(self.config.midi)
        names = list(SPECIAL_TOKENS)
        names += [f"<task:{t}>" for t in TASKS]
        names += [f"<to:{m}>" for m in MODALITIES]
        self._ranges: dict[tuple[str, int], tuple[int, int]] = {}
        self._add_range(names, ("lmx", 0), LMX_TOKENS)
        self._add_range(names, ("midi", 0), [f"midi:{s}" for s in self.midi_codec.token_strings()])
        for modality in CODE_MODALITIES:
            num_books, size = self.config.codebooks(modality)
            for k in range(num_books):
                codes = [_code_token(modality, k, c) for c in range(size)]
                self._add_range(names, (modality, k), codes)
        self._num_real_tokens = len(names)
        padded = -(-len(names) // VOCAB_MULTIPLE) * VOCAB_MULTIPLE
        names += [f"<unused:{i}>" for i in range(padded - len(names))]
        self._names = tuple(names)
        self._ids = {name: i for i, name in enumerate(names)}
        if len(self._ids) != len(names):
            raise VocabularyError("token names collide; the layout is inconsistent")

    def _add_range(self, names: list[str], key: tuple[str, int], tokens: Sequence[str]) -> None:
        self._ranges[key] = (len(names), len(names) + len(tokens))
        names.extend(tokens)

    # ----------------------------------------------------------------- layout
    @property
    def num_real_tokens(self) -> int:
        """Ids in use, before padding to a multiple of 128."""
        return self._num_real_tokens

    def num_codebooks(self, modality: str) -> int:
        """K: codes per output frame (1 for symbolic modalities)."""
        return 1 if modality in SYMBOLIC_MODALITIES else self.config.codebooks(modality)[0]

    def id_range(self, modality: str, codebook: int = 0) -> tuple[int, int]:
        """Half-open id range [lo, hi) of a modality's tokens (or one codebook's codes)."""
        try:
            return self._ranges[(modality, codebook)]
        except KeyError:
            raise VocabularyError(
                f"no id range for modality {modality!r} codebook {codebook}; "
                f"modalities are {MODALITIES}"
            ) from None

    def task_id(self, task: str) -> int:
        """Id of a task token; accepts a pair name ("image_to_lmx") or an alias ("omr")."""
        task = TASK_ALIASES.get(task, task)
        if task not in TASKS:
            raise VocabularyError(f"unknown task {task!r}; tasks are {TASKS + tuple(TASK_ALIASES)}")
        return self._ids[f"<task:{task}>"]

    def target_id(self, modality: str) -> int:
        """Id of the target-modality token."""
        if modality not in MODALITIES:
            raise VocabularyError(f"unknown modality {modality!r}; modalities are {MODALITIES}")
        return self._ids[f"<to:{modality}>"]

    def logit_mask(self, modality: str, codebook: int = 0) -> np.ndarray:
        """Boolean [vocab_size] mask of ids the output may take for this modality and slot."""
        mask = np.zeros(self.vocab_size, dtype=bool)
        lo, hi = self.id_range(modality, codebook)
        mask[lo:hi] = True
        mask[EOS_ID] = codebook == 0
        return mask

    @functools.cached_property
    def modality_masks(self) -> dict[str, np.ndarray]:
        """Per modality a [K_max, vocab_size] mask stack; slots past K are all False."""
        k_max = max(self.num_codebooks(m) for m in MODALITIES)
        stacks = {}
        for m in MODALITIES:
            stack = np.zeros((k_max, self.vocab_size), dtype=bool)
            for k in range(self.num_codebooks(m)):
                stack[k] = self.logit_mask(m, k)
            stacks[m] = stack
        return stacks

    def token_name(self, token_id: int) -> str:
        """The unique string name of an id."""
        if not 0 <= token_id < len(self._names):
            raise VocabularyError(f"id {token_id} outside the vocabulary of {len(self._names)}")
        return self._names[token_id]

    # ------------------------------------------------------- symbolic codecs
    def encode_lmx(self, tokens: Iterable[str]) -> list[int]:
        """LMX token strings to ids; tokens outside the inventory become <unk>."""
        lo, _ = self.id_range("lmx")
        index = _lmx_index()
        return [lo + index[t] if t in index else UNK_ID for t in tokens]

    def decode_lmx(self, ids: Iterable[int]) -> list[str]:
        """Ids to LMX tokens, up to the first EOS; ids of other modalities are dropped."""
        lo, hi = self.id_range("lmx")
        return [LMX_TOKENS[i - lo] for i in _until_eos(ids) if lo <= i < hi]

    def encode_midi(self, events: Iterable[int]) -> list[int]:
        """MIDI event codec ids (0-based) to unified ids."""
        lo, hi = self.id_range("midi")
        out = [lo + int(e) for e in events]
        if any(not lo <= i < hi for i in out):
            raise VocabularyError(f"MIDI event id outside [0, {hi - lo})")
        return out

    def decode_midi(self, ids: Iterable[int]) -> list[int]:
        """Unified ids to MIDI event codec ids, up to EOS; other ids are dropped."""
        lo, hi = self.id_range("midi")
        return [i - lo for i in _until_eos(ids) if lo <= i < hi]

    def encode_codes(self, modality: str, codes: np.ndarray) -> np.ndarray:
        """[T, K] codebook indices of an image or audio to [T, K] unified ids."""
        codes = np.asarray(codes)
        num_books, size = self.config.codebooks(modality)
        if codes.ndim != 2 or codes.shape[1] != num_books:
            raise VocabularyError(f"{modality} codes must be [T, {num_books}], got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= size):
            raise VocabularyError(f"{modality} codes must lie in [0, {size})")
        offsets = np.array([self.id_range(modality, k)[0] for k in range(num_books)])
        return (codes + offsets).astype(np.int32)

    def decode_codes(self, modality: str, ids: np.ndarray) -> np.ndarray:
        """[T, K] unified ids to codebook indices, up to the first frame that starts with EOS.

        An id outside its codebook's range (possible only without the logit
        mask) becomes code 0, the codec's most neutral choice.
        """
        ids = np.asarray(ids)
        num_books, size = self.config.codebooks(modality)
        if ids.ndim != 2 or ids.shape[1] != num_books:
            raise VocabularyError(f"{modality} ids must be [T, {num_books}], got {ids.shape}")
        ends = np.flatnonzero((ids[:, 0] == EOS_ID) | (ids[:, 0] == PAD_ID))
        ids = ids[: ends[0]] if ends.size else ids
        offsets = np.array([self.id_range(modality, k)[0] for k in range(num_books)])
        codes = ids - offsets
        return np.where((codes >= 0) & (codes < size), codes, 0).astype(np.int32)

    @property
    def vocab_size(self) -> int:
        """Ids in the layout, padding included (the model's output width)."""
        return len(self._names)

    def __eq__(self, other) -> bool:
        return isinstance(other, VocabularyLayout) and self.config == other.config

    def __hash__(self) -> int:
        return hash(self.config)


@functools.cache
def _lmx_index() -> dict[str, int]:
    return {t: i for i, t in enumerate(LMX_TOKENS)}


def _until_eos(ids: Iterable[int]) -> list[int]:
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        out.append(i)
    return out


def describe_layout(vocab: VocabularyLayout) -> str:
    """A table of the id ranges in id order, one line per range, for people reading logs."""
    ranges = [
        (0, len(SPECIAL_TOKENS), "specials"),
        (vocab.task_id(TASKS[0]), vocab.task_id(TASKS[-1]) + 1, "tasks"),
        (vocab.target_id(MODALITIES[0]), vocab.target_id(MODALITIES[-1]) + 1, "target modality"),
    ]
    for modality in MODALITIES:
        for k in range(vocab.num_codebooks(modality)):
            what = modality if modality in SYMBOLIC_MODALITIES else f"{modality} codebook {k}"
            ranges.append((*vocab.id_range(modality, k), what))
    if vocab.vocab_size > vocab.num_real_tokens:
        ranges.append((vocab.num_real_tokens, vocab.vocab_size, "padding"))
    lines = [f"{'ids':>15}  {'what':<18} first .. last token"]
    for lo, hi, what in sorted(ranges):
        first, last = vocab.token_name(lo), vocab.token_name(hi - 1)
        lines.append(f"{lo:>6} .. {hi - 1:<6} {what:<18} {first} .. {last}")
    lines.append(f"vocab_size = {vocab.vocab_size} ({vocab.num_real_tokens} in use)")
    return "\n".join(lines)
