"""SAE training throughput (tokens/s): censorscope's preset settings vs. SAELens's defaults.

Streams activations from a subject and trains a TopK SAE for a fixed number of tokens, timing
SAELens's training loop (LLM forward up to the hook + SAE step) after a short warm-up run.
Subjects: `embedded` (SmolLM2-135M, CPU preset), `tiny`, and `qwen3-8b-shaped` (random weights
from a Qwen3Config with the reference model's shape: 36 layers, d_model 4096, 32 heads, 8 KV
heads, head dim 128, FFN 12288, vocab 151936; needs no hub). Token ids are random, pretokenized.

    python benchmarks/train_throughput.py --subject embedded --device cpu --tokens 40960
    python benchmarks/train_throughput.py --subject qwen3-8b-shaped --device cuda

Writes benchmarks/results/train_throughput_<subject>_<device>.json (machine, versions, command,
settings, raw timings).
"""

import os

# as `python -m training` does: passive OpenMP waiting, set before torch loads (see there)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib.metadata
import json  # noqa: E402
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRESET_OF = {"embedded": "embedded", "tiny": "tiny", "qwen3-8b-shaped": "qwen3-8b"}


def qwen3_8b_shaped(device: str):
    """A random-weight model with the reference subject's shape, plus a small tokenizer."""
    from benchmarks.qwen3_shaped import build_subject

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return build_subject(device, dtype)


def load(subject_name: str, device: str):
    from core.model import load_subject

    if subject_name == "qwen3-8b-shaped":
        return qwen3_8b_shaped(device)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return load_subject(subject_name, device=device, dtype=dtype)


def runner_configs(subject, device: str, tokens: int):
    """{'censorscope': our preset mapped by to_runner_config, 'saelens-defaults': SAELens's}."""
    from sae_lens import LanguageModelSAERunnerConfig, LoggingConfig, TopKTrainingSAEConfig

    from training.config import preset
    from training.trainer import to_runner_config

    name = PRESET_OF[subject.source]
    ours = preset(
        name,
        device=device,
        tokens=tokens,
        lr_warmup_steps=1,
        n_checkpoints=0,
        dtype="bfloat16" if device.startswith("cuda") else "float32",
    )
    ours_cfg = to_runner_config(ours, subject, Path("/tmp/censorscope-bench"))
    ours_cfg.checkpoint_path = None
    defaults_cfg = LanguageModelSAERunnerConfig(
        sae=TopKTrainingSAEConfig(
            d_in=subject.d_model,
            d_sae=ours.resolved_d_sae(subject.d_model),
            k=ours.k,
            device=device,
        ),
        model_name=subject.source,
        model_class_name="AutoModelForCausalLM",
        hook_name=ours.hook_name,
        device=device,
        training_tokens=tokens,
        logger=LoggingConfig(log_to_wandb=False),
        checkpoint_path=None,
        output_path=None,
        verbose=False,
    )
    # SAELens 6.54's default buffer (n_batches_in_buffer 20 x context 128 = 2,560 activations)
    # is smaller than its default batch (4,096) and refuses to start; the smallest fix is used.
    minimal = -(-defaults_cfg.train_batch_size_tokens // defaults_cfg.context_size)
    defaults_cfg.n_batches_in_buffer = max(defaults_cfg.n_batches_in_buffer, 2 * minimal)
    return {"censorscope": (ours_cfg, ours), "saelens-defaults": (defaults_cfg, None)}


def random_tokens(vocab: int, context: int, n_seq: int, seed: int = 0):
    from datasets import Dataset

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, min(vocab, 30000), (n_seq, context), generator=g)
    return Dataset.from_dict({"input_ids": ids.tolist()})


def time_run(subject, runner_cfg, tokens: int) -> dict:
    from sae_lens import LanguageModelSAETrainingRunner
    from sae_lens.load_model import HookedProxyLM

    runner_cfg.training_tokens = tokens
    vocab = subject.model.config.vocab_size
    n_seq = tokens // runner_cfg.context_size + runner_cfg.store_batch_size_prompts * 4
    dataset = random_tokens(vocab, runner_cfg.context_size, n_seq)
    module = subject.model.get_submodule(runner_cfg.hook_name)
    hooks_before = set(module._forward_hooks)
    model = HookedProxyLM(subject.model, subject.tokenizer, hook_names=[runner_cfg.hook_name])
    runner = LanguageModelSAETrainingRunner(
        runner_cfg, override_dataset=dataset, override_model=model
    )
    sync = torch.cuda.synchronize if runner_cfg.device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    try:
        runner.run()
        sync()
        seconds = time.perf_counter() - start
    finally:
        for key in set(module._forward_hooks) - hooks_before:  # HookedProxyLM never removes them
            del module._forward_hooks[key]
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    with contextlib.suppress(OSError):
        info["load_average"] = os.getloadavg()
    return info


def versions() -> dict:
    out = {}
    for dist in ("torch", "transformers", "sae-lens", "datasets"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subject", choices=list(PRESET_OF), default="embedded")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per timed run")
    parser.add_argument("--warmup-tokens", type=int, default=None, help="tokens of the untimed run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--settings", default="censorscope,saelens-defaults")
    parser.add_argument("--out", default=None, help="result JSON path")
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    tokens = args.tokens or (2_000_000 if gpu else 40_960)
    warmup = args.warmup_tokens or (200_000 if gpu else 8192)

    subject = load(args.subject, args.device)
    results = {}
    for name in args.settings.split(","):
        runner_cfg, ours = runner_configs(subject, args.device, tokens)[name]
        print(f"[{name}] warm-up {warmup} tokens", file=sys.stderr)
        time_run(subject, runner_configs(subject, args.device, warmup)[name][0], warmup)
        runs = []
        for r in range(args.repeats):
            runs.append(
                time_run(subject, runner_configs(subject, args.device, tokens)[name][0], tokens)
            )
            print(f"[{name}] run {r}: {runs[-1]['tokens_per_s']:.0f} tokens/s", file=sys.stderr)
        keys = (
            "context_size",
            "train_batch_size_tokens",
            "store_batch_size_prompts",
            "n_batches_in_buffer",
            "autocast",
            "autocast_lm",
            "dtype",
            "hook_name",
        )
        results[name] = {
            "settings": {k: getattr(runner_cfg, k) for k in keys}
            | {
                "d_sae": runner_cfg.sae.d_sae,
                "k": runner_cfg.sae.k,
                "normalize_activations": runner_cfg.sae.normalize_activations,
            },
            "runs": runs,
            "tokens_per_s_median": sorted(r["tokens_per_s"] for r in runs)[len(runs) // 2],
        }
    report = {
        "benchmark": "sae_training_throughput",
        "subject": args.subject,
        "subject_dtype": str(subject.dtype),
        "device": args.device,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    out = (
        Path(args.out)
        if args.out
        else ROOT
        / "benchmarks"
        / "results"
        / (f"train_throughput_{args.subject}_{args.device.split(':')[0]}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v["tokens_per_s_median"] for k, v in results.items()}, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
