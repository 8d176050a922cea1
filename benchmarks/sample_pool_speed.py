"""How fast the subject writes for `python -m training sample-pool`, by dtype and batch.

The subjects of both shipped SAEs are SmolLM2-135M-Instruct (the organism adds a merged LoRA,
which changes no shape). Speed does not depend on the weights' values, so this builds a model of
that shape with random weights and times `training.sampled_pool.sample_texts` (192 tokens a text,
the KV cache, no early stop) and the float32 check of the texts (`_fired`: the layers up to the
SAE's hook, then the SAE's encoder) on an SAE of the shipped size.

    python -m benchmarks.sample_pool_speed --device cuda --out benchmarks/results/sample_pool_speed.json
"""

import argparse
import json
import platform
import time

import numpy as np
import torch

SMOLLM2_135M = dict(
    vocab_size=49_152,
    hidden_size=576,
    intermediate_size=1536,
    num_hidden_layers=30,
    num_attention_heads=9,
    num_key_value_heads=3,
    max_position_embeddings=8192,
    rope_theta=100_000.0,
    tie_word_embeddings=True,
)
HOOK_LAYER = 15  # both shipped SAEs read model.layers.15
D_SAE, K = 4608, 32


def build_model(device: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(LlamaConfig(**SMOLLM2_135M), dtype=dtype)
    return model.eval().requires_grad_(False)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_writing(device: str, dtype: torch.dtype, batch: int, length: int) -> dict:
    from training.sampled_pool import sample_texts

    model = build_model(device, dtype)
    starts = torch.zeros(batch, dtype=torch.long, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    sample_texts(model, starts[:8], 8, 1.0, gen)  # warm-up: kernels picked, memory pooled
    _sync(device)
    t0 = time.perf_counter()
    ids = sample_texts(model, starts, length, 1.0, gen)
    _sync(device)
    seconds = time.perf_counter() - t0
    del model
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.empty_cache()
    else:
        peak = None
    return {
        "dtype": str(dtype).removeprefix("torch."),
        "batch": batch,
        "length": length,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(ids.numel() / seconds),
        "peak_gib": None if peak is None else round(peak, 1),
    }


def time_check(device: str, batch: int, length: int, rows: int) -> dict:
    from core.model import Subject
    from core.sae import LoadedSae, RuntimeTopK, RuntimeTopKConfig
    from training.sampled_pool import _fired

    model = build_model(device, torch.float32)
    subject = Subject(model=model, tokenizer=None, source="smollm2-shaped", name="random")
    sae = RuntimeTopK(RuntimeTopKConfig(d_in=576, d_sae=D_SAE, k=K), device=device)
    loaded = LoadedSae(sae=sae, hook_name=f"model.layers.{HOOK_LAYER}", path="<random>")
    ids = torch.randint(0, SMOLLM2_135M["vocab_size"], (batch, length), device=device)
    regions = np.ones(ids.numel(), np.int8)
    wanted = torch.arange(0, D_SAE, 50)
    _fired(loaded, subject, ids[:8], regions[: 8 * length], wanted, rows)
    _sync(device)
    t0 = time.perf_counter()
    _fired(loaded, subject, ids, regions, wanted, rows)
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"batch": batch, "rows": rows, "seconds": round(seconds, 3),
            "tokens_per_s": round(ids.numel() / seconds)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--length", type=int, default=192)
    ap.add_argument("--out", default="benchmarks/results/sample_pool_speed.json")
    ap.add_argument(
        "--runs", default="float32:2048,bfloat16:2048,bfloat16:4096,bfloat16:8192",
        help="dtype:batch pairs to time",
    )  # fmt: skip
    args = ap.parse_args()
    writing = []
    for spec in args.runs.split(","):
        name, batch = spec.split(":")
        writing.append(time_writing(args.device, getattr(torch, name), int(batch), args.length))
        print(json.dumps(writing[-1]), flush=True)
    check = time_check(args.device, 2048, args.length, 512)
    print(json.dumps(check), flush=True)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor()
    result = {
        "what": "sample-pool's writing speed (sample_texts) by dtype and batch, and its float32 "
        "check (_fired), on a SmolLM2-135M-shaped model with random weights",
        "machine": f"{gpu}, torch {torch.__version__}",
        "command": "python -m benchmarks.sample_pool_speed "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "writing": writing,
        "check": check,
    }
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
