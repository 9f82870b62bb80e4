"""Image and audio code embeddings started from trained codecs' codebooks (the paper's init).

For each RVQ modality with a codec workdir, codebook k's [N, c] vectors (in the codec's
lookup space: after its `code_dim` projection and L2 normalization, if it has them) become
the token embedding rows of that codebook's id range, `vocabulary.id_range(modality, k)`,
through one fixed random projection P [c, emb_dim] per modality:

    rows_k = codebook_k @ P,   P = G * s,   G ~ N(0, 1) drawn from `seed` (and the modality),

with s the one scale that gives the projected rows of all K codebooks together the root mean
square of a freshly initialized embedding (network.TOKEN_EMBED_STD). One P and one s for all
codebooks of a modality keep the residual codebooks' relative sizes (later codebooks hold
smaller corrections), and for a codec without `code_dim` a frame's embedding, the sum of its
codes' rows, is then exactly the projection of the codec's quantized latent. A random
projection rather than a least-squares fit: nothing to fit the codebooks to exists at init.

Bound in gin as `CodebookInit.image_codec_workdir = '...'` (and/or `audio_codec_workdir`);
the trainer applies it to fresh parameters only (a resumed or finetuned run keeps its own).
"""

from __future__ import annotations

import dataclasses

import gin
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.errors import CodebookMismatchError
from mt3_unified.model.network import TOKEN_EMBED_STD

MODALITY_SEEDS = {"image": 0, "audio": 1}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class CodebookInit:
    """Codec workdirs (as `mt3u train-codec` writes them) whose codebooks start the image and
    audio code embeddings; None leaves that modality's rows as the random init made them."""

    image_codec_workdir: str | None = None
    audio_codec_workdir: str | None = None
    seed: int = 0

    def workdirs(self) -> dict[str, str]:
        return {
            modality: workdir
            for modality, workdir in (
                ("image", self.image_codec_workdir),
                ("audio", self.audio_codec_workdir),
            )
            if workdir
        }

    def rows(self, vocabulary, emb_dim: int) -> dict[str, list[tuple[int, int, np.ndarray]]]:
        """{modality: [(lo, hi, rows [hi - lo, emb_dim]) per codebook]} from the codecs.

        Raises CodebookMismatchError (naming the vocabulary's and the codec's codebooks) when
        they differ, CodecLoadError when a workdir holds the other modality's codec.
        """
        from mt3_unified.codecs.loading import CodecLoadError, codec_kind, load_codec

        out = {}
        for modality, workdir in self.workdirs().items():
            model, variables = load_codec(workdir)
            kind = codec_kind(model.config)
            if kind != modality:
                raise CodecLoadError(
                    f"CodebookInit.{modality}_codec_workdir {workdir}: holds an {kind} codec"
                )
            rvq = model.config.rvq
            wanted = vocabulary.config.codebooks(modality)
            if wanted != (rvq.num_codebooks, rvq.codebook_size):
                raise CodebookMismatchError(
                    f"CodebookInit: the vocabulary has {wanted[0]} {modality} codebooks of "
                    f"{wanted[1]} codes (VocabularyConfig) but the {modality} codec in {workdir} "
                    f"has {rvq.num_codebooks} of {rvq.codebook_size}"
                )
            books = codec_codebooks(model, variables)
            projection = codebook_projection(books, emb_dim, self.seed + MODALITY_SEEDS[modality])
            out[modality] = [
                (*vocabulary.id_range(modality, k), books[k] @ projection)
                for k in range(books.shape[0])
            ]
        return out

    def params_fn(self, model):
        """params -> params with the codebook rows set (jit-traceable); None when no workdir
        is bound. The codecs are read here, once, on the host."""
        if not self.workdirs():
            return None
        rows = self.rows(model.vocabulary, model.config.emb_dim)

        def apply(params):
            table = params["token_embed"]
            for books in rows.values():
                for lo, hi, values in books:
                    table = table.at[lo:hi].set(jnp.asarray(values, table.dtype))
            return {**params, "token_embed": table}

        return apply


def codec_codebooks(model, variables) -> np.ndarray:
    """A codec's K codebooks [K, N, c] in its lookup space, float32 on the host."""
    books = model.apply(variables, method=lambda codec: codec.quantizer.codebooks())
    return np.asarray(jax.device_get(books), np.float32)


def codebook_projection(codebooks: np.ndarray, emb_dim: int, seed: int) -> np.ndarray:
    """P [c, emb_dim]: a standard normal matrix from `seed`, scaled so that `codebooks @ P`
    (all K codebooks together) has the root mean square TOKEN_EMBED_STD."""
    code_dim = codebooks.shape[-1]
    gaussian = np.random.default_rng(seed).standard_normal((code_dim, emb_dim))
    projected = codebooks.reshape(-1, code_dim).astype(np.float64) @ gaussian
    rms = float(np.sqrt(np.mean(projected**2)))
    if rms == 0.0:
        raise ValueError("the codec's codebooks are all zero: nothing to start embeddings from")
    return (gaussian * (TOKEN_EMBED_STD / rms)).astype(np.float32)
