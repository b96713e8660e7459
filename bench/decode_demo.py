#!/usr/bin/env python
"""A decoding loop over a tiny built-in bigram "language model", sampled by logitkit and by PyTorch.

The model is a random logit table, seeded, nothing downloaded: ``CONTEXTS`` rows of V logits (a
Zipf-like prior over the vocabulary plus noise), and the next token's logits are the row of the
previous token (token mod CONTEXTS: a hashed bigram, so that the table stays small at V = 32000).
Tokens are shown as made-up words built from syllables of their id. Each step samples one token per
sequence with temperature, top-k, top-p and min-p, and prints it with its log-probability and the
most likely alternatives (logprobs under the tempered distribution, before filtering).

Side by side: ``logitkit.multiclass.sample`` (when this logitkit has it) and the PyTorch chain of
bench/compare.py (transformers' logits warpers, ``torch.multinomial``; needs torch). Both run on one
thread. Their draws differ (each has its own generator); logitkit's are the same for the same seed,
which the demo shows by decoding twice. The speed part decodes more tokens without printing and
reports tokens per second, the loop included.

Usage::

    python bench/decode_demo.py
    python bench/decode_demo.py --vocab 128256 --steps 12 --bench-tokens 2000
    python bench/decode_demo.py --temperature 0.7 --top-p 0.9 --top-k 0 --min-p 0
    python bench/decode_demo.py --batch 8            # 8 sequences decoded together
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

# compare.py (next to this file) sets one thread for every library before they load, and holds
# the PyTorch chain.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare
import logitkit as lk
import numpy as np

CONTEXTS = 256
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def word(token: int) -> str:
    """A pronounceable made-up word for a token id (distinct ids give distinct words)."""
    s = []
    t = int(token)
    while True:
        t, r = divmod(t, len(SYLLABLES))
        s.append(SYLLABLES[r])
        if t == 0:
            return "".join(s)
        t -= 1


def bigram_table(vocab: int, seed: int) -> np.ndarray:
    """The model: CONTEXTS rows of logits, float32. A Zipf-like prior (-log(1 + rank) of a random
    ranking of the vocabulary) plus 2.5 x standard normal noise per row."""
    rng = np.random.default_rng(seed)
    prior = -np.log1p(rng.permutation(vocab).astype(np.float64))
    table = prior + 2.5 * rng.standard_normal((CONTEXTS, vocab))
    return np.ascontiguousarray(table, dtype=np.float32)


class Decoder:
    """One backend: sample(logits (batch, V)) -> (tokens, logprob, top_tokens, top_logprobs)."""

    name = ""

    def sample(self, logits: np.ndarray) -> tuple:
        raise NotImplementedError


class LogitkitDecoder(Decoder):
    name = "logitkit"

    def __init__(self, opts: dict, logprobs: int, seed: int) -> None:
        self.fn = lk.multiclass.sample
        self.opts, self.n, self.rng = opts, logprobs, np.random.default_rng(seed)

    def sample(self, logits: np.ndarray) -> tuple:
        return tuple(self.fn(logits, rng=self.rng, logprobs=self.n, **self.opts))


class TorchDecoder(Decoder):
    name = "torch"

    def __init__(self, opts: dict, logprobs: int, seed: int) -> None:
        self.torch = compare.peer("torch")  # one thread
        self.req = (opts["temperature"], opts.get("top_k"), opts.get("top_p"), opts.get("min_p"))
        self.n, self.gen = logprobs, self.torch.Generator().manual_seed(seed)

    def sample(self, logits: np.ndarray) -> tuple:
        x = self.torch.from_numpy(logits)
        r = compare.torch_hf_chain(self.torch, x, self.req, self.n, self.gen)
        return tuple(v.numpy() for v in r)


def decode(dec: Decoder, table: np.ndarray, start: np.ndarray, steps: int) -> list[tuple]:
    """steps tokens for every sequence (start: their first tokens); the sampler's results."""
    out = []
    cur = start
    for _ in range(steps):
        if len(cur) == 1:
            logits = table[int(cur[0]) % CONTEXTS][None]  # a view: no copy of the row
        else:
            logits = table[cur % CONTEXTS]
        r = dec.sample(logits)
        cur = np.asarray(r[0]).reshape(-1)
        out.append(r)
    return out


def tokens_per_second(dec: Decoder, table: np.ndarray, start: np.ndarray, n: int) -> float:
    steps = max(1, n // len(start))
    decode(dec, table, start, min(steps, 5))  # warm-up
    t0 = time.perf_counter()
    decode(dec, table, start, steps)
    return steps * len(start) / (time.perf_counter() - t0)


def show(results: dict[str, list[tuple]], n_alt: int) -> None:
    names = list(results)
    table = []
    for step in range(len(results[names[0]])):
        cells = []
        for name in names:
            tok, lp, top_tok, top_lp = results[name][step]
            t = int(np.asarray(tok).reshape(-1)[0])
            alts = ", ".join(
                f"{word(a)} {b:.2f}"
                for a, b in zip(np.asarray(top_tok)[0][:n_alt], np.asarray(top_lp)[0][:n_alt])
            )
            cells.append(f"{word(t)} {float(np.asarray(lp).reshape(-1)[0]):.3f} [{alts}]")
        table.append(cells)
    widths = [max(len(n), *(len(row[i]) for row in table)) + 3 for i, n in enumerate(names)]
    print("step  " + "".join(n.ljust(w) for n, w in zip(names, widths)).rstrip())
    for step, cells in enumerate(table):
        print(f"{step + 1:>4}  " + "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vocab", type=int, default=32000, help="V (default 32000)")
    p.add_argument("--steps", type=int, default=10, help="tokens printed per backend")
    p.add_argument("--bench-tokens", type=int, default=1000, help="tokens timed per backend")
    p.add_argument("--batch", type=int, default=1, help="sequences decoded together")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40, help="0: off")
    p.add_argument("--top-p", type=float, default=0.95, help="1: off")
    p.add_argument("--min-p", type=float, default=0.05, help="0: off")
    p.add_argument("--logprobs", type=int, default=3, help="alternatives shown (>= 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="logitkit only")
    args = p.parse_args(argv)
    if args.vocab < 1 or args.batch < 1 or args.steps < 1 or args.logprobs < 1:
        p.error("--vocab, --batch, --steps and --logprobs must be at least 1")
    if args.temperature <= 0:
        p.error("--temperature must be positive (logprobs are those of the tempered distribution)")

    lk.set_num_threads(1)
    opts: dict[str, Any] = {"temperature": args.temperature}
    if args.top_k > 0:
        opts["top_k"] = args.top_k
    if args.top_p < 1:
        opts["top_p"] = args.top_p
    if args.min_p > 0:
        opts["min_p"] = args.min_p
    n = min(args.logprobs, args.vocab)

    decoders: list[Decoder] = []
    if hasattr(lk.multiclass, "sample"):
        decoders.append(LogitkitDecoder(opts, n, args.seed))
    else:
        print(f"logitkit {lk.__version__} has no multiclass.sample: its column is left out")
    if not args.no_torch:
        try:
            decoders.append(TorchDecoder(opts, n, args.seed))
        except compare.Skip as e:
            print(f"PyTorch chain left out: {e}")
    if not decoders:
        print("nothing to run: neither logitkit.multiclass.sample nor torch is available")
        return 1

    table = bigram_table(args.vocab, args.seed)
    start = np.arange(args.batch) % args.vocab
    print(
        f"bigram model: V = {args.vocab}, {CONTEXTS} contexts, seed {args.seed}; sampling "
        + ", ".join(f"{k} {v}" for k, v in opts.items())
        + f"; batch {args.batch}, one thread"
    )
    print("each cell: the token, its log-probability, the most likely alternatives (sequence 0)\n")
    results = {d.name: decode(d, table, start, args.steps) for d in decoders}
    show(results, n)

    if isinstance(decoders[0], LogitkitDecoder):
        again = decode(LogitkitDecoder(opts, n, args.seed), table, start, args.steps)
        same = all(
            np.array_equal(a[0], b[0]) for a, b in zip(results["logitkit"], again, strict=True)
        )
        print(
            f"\nlogitkit, decoded again with seed {args.seed}:"
            f" same tokens: {'yes' if same else 'NO'}"
        )

    print(f"\nspeed: {args.bench_tokens} tokens per backend, batch {args.batch}, the loop included")
    for d in decoders:
        tps = tokens_per_second(d, table, start, args.bench_tokens)
        print(f"  {d.name:<9} {tps:>10.0f} tokens/s  ({1e6 / tps:.1f} us per token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
