"""Steered vs plain decode speed, inspect latency and peak memory, through the app's own code path.

GPU (Qwen3-8B-shaped random bf16 subject, TopK SAE 12,288 x k=96 at layer 18):
    python benchmarks/steering_speed.py --subject qwen3-8b-shaped --device cuda
CPU (embedded default SmolLM2-135M with its shipped SAE):
    python benchmarks/steering_speed.py --subject embedded --device cpu

Each configuration measures its own plain baseline in the same run. Writes
benchmarks/results/steering_speed-<subject>-<device>.json (or --out) with machine, versions,
command, raw timings and medians.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.edits import FeatureEdit  # noqa: E402
from core.generate import GenerationSettings, encode_batch, generate_batch  # noqa: E402
from core.inspect import feature_acts  # noqa: E402
from core.intervention import Intervention  # noqa: E402
from core.splice import release_persistent  # noqa: E402

PROMPT_WORDS = [
    "Explain",
    "in",
    "detail",
    "what",
    "happened",
    "at",
    "Tiananmen",
    "Square",
    "in",
    "June",
    "1989,",
    "who",
    "was",
    "involved,",
    "how",
    "the",
    "government",
    "responded,",
    "and",
    "how",
    "the",
    "events",
    "are",
    "remembered",
    "today",
    "inside",
    "and",
    "outside",
    "China",
]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def prompt_of(subject, n_tokens: int) -> str:
    """A prompt whose chat-formatted length is close to n_tokens."""
    words: list[str] = []
    while True:
        words.append(PROMPT_WORDS[len(words) % len(PROMPT_WORDS)])
        ids, _, _ = encode_batch(subject, [" ".join(words)])
        if ids.shape[1] >= n_tokens:
            return " ".join(words)


def time_generation(subject, sae, prompt, batch, settings, edits, reps, device) -> dict:
    prompts = [prompt] * batch
    iv = Intervention("steered", edits, sae) if edits else None
    generate_batch(subject, prompts, settings, batch_size=batch, intervention=iv)  # warm-up/compile
    generate_batch(subject, prompts, settings, batch_size=batch, intervention=iv)
    raw = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        gens = generate_batch(subject, prompts, settings, batch_size=batch, intervention=iv)
        sync(device)
        raw.append(time.perf_counter() - t0)
    new_tokens = sum(g.n_tokens for g in gens)
    return {
        "batch": batch,
        "token_ids": gens[0].token_ids,
        "new_tokens_per_call": new_tokens,
        "seconds": raw,
        "median_s": statistics.median(raw),
        "tokens_per_s": new_tokens / statistics.median(raw),
    }


def time_inspect(subject, sae, n_tokens, reps, device) -> dict:
    ids, _, _ = encode_batch(subject, [prompt_of(subject, n_tokens)])
    for _ in range(3):
        feature_acts(subject, sae, ids).topk(10, dim=-1)
    raw = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        acts = feature_acts(subject, sae, ids)
        acts.topk(10, dim=-1)
        sync(device)
        raw.append(time.perf_counter() - t0)
    return {"tokens": int(ids.shape[1]), "seconds": raw, "median_ms": 1000 * statistics.median(raw)}


def peak_memory(subject, sae, edits, context: int, device) -> dict:
    """Peak GPU memory for subject + SAE + a KV cache of `context` tokens, steered."""
    if not device.startswith("cuda"):
        return {}
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    prompt = prompt_of(subject, context - 64)
    settings = GenerationSettings(max_new_tokens=64, ignore_eos=True, cache="dynamic")
    generate_batch(subject, [prompt], settings, intervention=Intervention("steered", edits, sae))
    return {
        "context_tokens": context,
        "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
    }


def load(args):
    if args.subject == "qwen3-8b-shaped":
        from benchmarks.qwen3_shaped import build_sae, build_subject

        subject = build_subject(args.device)
        return subject, build_sae(subject)
    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import default_sae_for

    subject = load_subject(args.subject, device=args.device)
    return subject, load_sae(args.sae or default_sae_for(args.subject), subject)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subject", default="embedded", help="embedded | qwen3-8b-shaped | folder")
    p.add_argument("--sae", default=None)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--caches", nargs="+", default=None, help="dynamic and/or static")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--inspect-tokens", type=int, default=512)
    p.add_argument("--memory-context", type=int, default=4096)
    p.add_argument("--clamp", type=float, default=200.0, help="clamp value of the second edit")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    caches = args.caches or (
        ["dynamic", "static"] if args.device.startswith("cuda") else ["dynamic"]
    )

    t0 = time.perf_counter()
    subject, sae = load(args)
    load_s = time.perf_counter() - t0
    prompt = prompt_of(subject, args.prompt_tokens)
    ids, _, _ = encode_batch(subject, [prompt])
    strongest = feature_acts(subject, sae, ids)[0, -1].topk(2).indices.tolist()
    edits = [FeatureEdit(strongest[0], "ablate"), FeatureEdit(strongest[1], "clamp", args.clamp)]

    runs = []
    for cache in caches:
        settings = GenerationSettings(max_new_tokens=args.new_tokens, ignore_eos=True, cache=cache)
        for batch in args.batches:
            plain = time_generation(
                subject, None, prompt, batch, settings, None, args.reps, args.device
            )
            steered = time_generation(
                subject, sae, prompt, batch, settings, edits, args.reps, args.device
            )
            # Baseline again with the (inert) persistent hook in place: what the app's baseline sees.
            plain_after = time_generation(
                subject, None, prompt, batch, settings, None, args.reps, args.device
            )
            release_persistent(subject, sae)
            row = {
                "cache": cache,
                "batch": batch,
                "plain": plain,
                "steered": steered,
                "plain_with_inert_hook": plain_after,
                "steered_over_plain": steered["tokens_per_s"] / plain["tokens_per_s"],
                # Evidence the edits ran: the steered tokens differ from the plain ones.
                "steered_tokens_differ": steered["token_ids"] != plain["token_ids"],
                "plain_tokens_match_after_hook": plain_after["token_ids"] == plain["token_ids"],
            }
            runs.append(row)
            print(
                f"cache={cache:8s} batch={batch:2d} plain {plain['tokens_per_s']:8.1f} tok/s  "
                f"steered {steered['tokens_per_s']:8.1f} tok/s  ratio {row['steered_over_plain']:.3f}  "
                f"differs={row['steered_tokens_differ']} plain_stable={row['plain_tokens_match_after_hook']}",
                flush=True,
            )
    inspect = time_inspect(
        subject, sae, args.inspect_tokens if args.device.startswith("cuda") else 64, 10, args.device
    )
    print(f"inspect {inspect['tokens']} tokens: {inspect['median_ms']:.1f} ms", flush=True)
    memory = peak_memory(subject, sae, edits, args.memory_context, args.device)
    if memory:
        print(
            f"peak memory at {args.memory_context} tokens: {memory['peak_allocated_gib']:.2f} GiB",
            flush=True,
        )

    import transformers

    result = {
        "benchmark": "steering_speed",
        "command": " ".join(["python", *sys.argv]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": __import__("os").cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "subject": subject.name,
        "sae": {"hook": sae.hook_name, "d_sae": sae.d_sae, "k": sae.k},
        "edits": [e.describe() for e in edits],
        "prompt_tokens": int(ids.shape[1]),
        "new_tokens": args.new_tokens,
        "load_s": load_s,
        "decode": runs,
        "inspect": inspect,
        "memory": memory,
    }
    out = Path(
        args.out
        or Path(__file__).parent / "results" / f"steering_speed-{args.subject}-{args.device}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
