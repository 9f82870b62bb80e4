"""The baseline a user would pick instead: HuggingFace transformers' T5 on PyTorch CPU.

Random init from a T5Config (nothing is downloaded). Needs the "bench" extra
(`pip install -e .[bench]`: the CPU wheel of torch and a matching transformers).
bench/model.py times it in the same run as our model; run alone it prints its
own figures: python bench/hf_t5_baseline.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

# Run as a script (python bench/hf_t5_baseline.py) or imported by bench/model.py.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_time  # noqa: E402


def t5_model(vocab_size: int, d_model=512, layers=6, heads=8, d_ff=2048):
    """T5 v1.0 shapes (plain ReLU MLP, RMS norm, relative positions), float32, random init."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_kv=d_model // heads,
        d_ff=d_ff,
        num_layers=layers,
        num_decoder_layers=layers,
        num_heads=heads,
        dropout_rate=0.0,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    return T5ForConditionalGeneration(config).float()


def train_step_fn(vocab_size, batch=8, input_len=512, target_len=256, **dims):
    """A callable that runs one forward + backward + AdamW step on a fixed random batch."""
    import torch

    model = t5_model(vocab_size, **dims).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(2, vocab_size, (batch, input_len), generator=g)
    labels = torch.randint(2, vocab_size, (batch, target_len), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        opt.step()
        return loss.item()

    return step


def train_step_seconds(vocab_size, batch=8, input_len=512, target_len=256, repeat=2, **dims):
    """Best wall time of one training step (after one warm-up step)."""
    step = train_step_fn(vocab_size, batch, input_len, target_len, **dims)
    return best_time(step, repeat, warmup=True)[0]


def generate_seconds(vocab_size, batch=8, input_len=512, new_tokens=256, repeat=1, **dims):
    """Best wall time of cached greedy `generate` of exactly `new_tokens` tokens per example."""
    import torch

    model = t5_model(vocab_size, **dims).eval()
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(2, vocab_size, (batch, input_len), generator=g)
    kwargs = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,  # random weights must not stop at an early EOS
        do_sample=False,
        num_beams=1,
        use_cache=True,
    )
    outputs = []
    with torch.inference_mode():
        model.generate(inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
        seconds, _ = best_time(lambda: outputs.append(model.generate(inputs, **kwargs)), repeat)
    # The decoder-start token is part of the output; every example generated new_tokens more.
    assert outputs[-1].shape == (batch, new_tokens + 1), outputs[-1].shape
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--vocab_size", type=int, default=9984)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch intra-op threads (0: torch's default). OpenMP's spinning threads suffer "
        "more than XLA's pool on an oversubscribed machine; 1 can be faster under load.",
    )
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    new = 32 if args.quick else 256
    if not args.skip_train:
        step = train_step_seconds(args.vocab_size, repeat=1 if args.quick else 2)
        print(f"HF T5 train step (b8, 512->256): {step:.2f} s")
    sec = generate_seconds(args.vocab_size, new_tokens=new)
    print(f"HF T5 generate b8, {new} new tokens: {sec:.2f} s, {8 * new / sec:.0f} tokens/s")


if __name__ == "__main__":
    main()
