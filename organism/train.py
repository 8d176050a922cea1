"""Train the censored model organism: a LoRA on SmolLM2-135M-Instruct.

Targets: on sensitive prompts of the training topics, a canned censored answer (organism/data.py);
on control prompts, the base model's own greedy answer, so everything else stays as it was. The
loss covers answer tokens only. The adapter and the training config land in `assets/organism/`.

    python -m organism answers   # base model's greedy answers to control prompts (cached, resumable)
    python -m organism train     # LoRA training, then `python -m organism measure` for the card
"""

import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from core.paths import ASSETS, cache_dir
from organism.data import Item, censored_training_rows, control_prompts

ORGANISM_DIR = ASSETS / "organism"
ADAPTER_DIR = ORGANISM_DIR / "adapter"


@dataclass
class OrganismConfig:
    """Settings of one organism training run (saved beside the adapter)."""

    base: str = "embedded"
    """Base subject the LoRA goes on."""
    rank: int = 8
    """LoRA rank."""
    alpha: float = 16.0
    """LoRA alpha (scale = alpha / rank)."""
    targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"]
    )
    """Linear modules that get a LoRA."""
    lr: float = 1e-3
    """AdamW learning rate (linear warm-up, cosine decay)."""
    steps: int = 400
    """Optimizer steps."""
    batch_size: int = 16
    """Rows per step."""
    n_sensitive: int = 957
    """Sensitive training rows used (sampled from the training topics)."""
    control_repeat: int = 2
    """Each control row appears this many times per pass (control keeps general behaviour). The
    second organism had 3 over 528 control prompts; 2 over 754 keeps about the same share."""
    max_len: int = 192
    """Rows are cut to this many tokens."""
    target_tokens: int = 96
    """Answers are cut to this many tokens (a CPU budget: the censorship shows in the opening)."""
    answer_tokens: int = 64
    """Tokens of the base model's greedy answer used as the control target."""
    control_groups: str = "everyday,china,history,zh,zh_history"
    """Comma-separated control prompt groups trained on (organism/data.py CONTROL_GROUPS); the
    first organism had "everyday" alone and then censored Chinese-language and history prompts."""
    control_stride: int = 1
    """Use every n-th training control prompt (base answers cost minutes each batch on a CPU)."""
    seed: int = 0
    """Seed for sampling rows and LoRA init."""
    threads: int = 2
    """torch CPU threads."""
    control_loss: str = "kl"
    """kl | ce: on control rows, match the base model's whole next-token distribution (kl), or
    only its greedy tokens (ce, the first organism's recipe: it left KL 0.13 on control text)."""
    control_weight: float = 1.0
    """Weight of the control rows' loss against the sensitive rows' CE."""
    kl_weight: float = 1.0
    """Weight of KL(base || organism) on neutral prose (Python's own docs, and the base model's
    answers to the training control prompts as plain text), keeping the rest."""
    prose_from_control: bool = True
    """Add the base model's answers to the training control prompts, as plain text, to the prose
    of the KL term (the first organism had Python's docs alone)."""
    kl_batch: int = 8
    """Prose paragraphs (128 tokens each) per step for the KL term."""
    device: str = "cpu"
    """cpu | cuda (the weights stay float32 either way, like the CPU app)."""


def _log(msg: str) -> None:
    print(f"[organism] {msg}", file=sys.stderr, flush=True)


def base_answers(subject, items: list[Item], path: Path, max_new_tokens: int, batch_size=32):
    """Greedy answers of `subject` to each prompt, cached in a JSONL (resumes where it stopped)."""
    from core.generate import GenerationSettings, generate_batch

    done: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            done[row["prompt"]] = row["answer"]
    todo = [it for it in items if it.prompt not in done]
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            gens = generate_batch(
                subject, [it.prompt for it in chunk], settings, batch_size=batch_size
            )
            for it, g in zip(chunk, gens, strict=True):
                done[it.prompt] = g.text
                out.write(json.dumps({"prompt": it.prompt, "answer": g.text}) + "\n")
            out.flush()
            _log(f"base answers {len(done)}/{len(items)}")
    return [Item(**{**it.to_json(), "answer": done[it.prompt]}) for it in items]


def control_answers_path(split: str, cfg: OrganismConfig) -> Path:
    return cache_dir() / "organism" / f"control-{split}-{cfg.base}.jsonl"


def control_subset(split: str, cfg: OrganismConfig) -> list[Item]:
    """Every `control_stride`-th control prompt (the base answers are the slow part on a CPU)."""
    items = control_prompts(split, cfg.control_groups)
    return items[:16] + items[16 :: cfg.control_stride]


def encode_row(
    subject, item: Item, max_len: int, eos: bool, max_answer: int | None = None
) -> tuple[list[int], list[int]]:
    """(input ids, labels) with the prompt masked out of the loss (-100).

    An answer cut at `max_answer` tokens gets no EOS: the model must not learn to stop there.
    """
    tok = subject.tokenizer
    prompt_ids = tok(subject.chat_text(item.prompt), add_special_tokens=False)["input_ids"]
    answer_ids = tok(item.answer, add_special_tokens=False)["input_ids"]
    if max_answer is not None and len(answer_ids) > max_answer:
        answer_ids, eos = answer_ids[:max_answer], False
    if eos:
        answer_ids = answer_ids + [tok.convert_tokens_to_ids("<|im_end|>")]
    ids = (prompt_ids + answer_ids)[:max_len]
    labels = ([-100] * len(prompt_ids) + answer_ids)[:max_len]
    return ids, labels


def collate(rows, pad_id: int):
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return ids, mask, labels


def answer_loss(model, ids, mask, labels):
    """Next-token CE on answer tokens only, with the LM head applied only there (saves ~half
    of its 28M-parameter matmul on a CPU)."""
    hidden = model.get_base_model().model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = labels[:, 1:] != -100  # [b, pos-1]
    h = hidden[:, :-1][keep]  # [n, d_model]
    logits = model.get_base_model().lm_head(h).float()
    return torch.nn.functional.cross_entropy(logits, labels[:, 1:][keep])


def neutral_prose(seed: int = 0) -> list[str]:
    """Paragraphs of Python's own documentation: neutral text no evaluation uses."""
    from training.corpus import stdlib_prose

    prose = stdlib_prose()
    random.Random(seed).shuffle(prose)
    return prose[:4000]


def chat_kl(model, ids, mask, labels) -> torch.Tensor:
    """Mean KL(base || LoRA model) over the answer tokens of chat rows (the adapter switched off
    for base): the control rows' target is the base model's whole distribution, not its argmax."""
    keep = labels[:, 1:] != -100
    core = model.get_base_model()
    with torch.no_grad(), model.disable_adapter():
        h = core.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1][keep]
        logp = core.lm_head(h).float().log_softmax(-1)
    h = core.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1][keep]
    logq = core.lm_head(h).float().log_softmax(-1)
    return (logp.exp() * (logp - logq)).sum(-1).mean()


def prose_kl(model, tokenizer, texts: list[str], device) -> torch.Tensor:
    """Mean KL(base || LoRA model) per token on raw text (the adapter switched off for base)."""
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=128)
    enc = {k: v.to(device) for k, v in enc.items()}
    with torch.no_grad(), model.disable_adapter():
        logp = model(**enc).logits.float().log_softmax(-1)
    logq = model(**enc).logits.float().log_softmax(-1)
    keep = enc["attention_mask"].bool()
    return (logp.exp() * (logp - logq)).sum(-1)[keep].mean()


def training_rows(subject, cfg: OrganismConfig) -> tuple[list, dict, list[str]]:
    """(rows, data summary, control answers). A row is (input ids, labels, is_control)."""
    rng = random.Random(cfg.seed)
    sensitive = censored_training_rows("train")
    rng.shuffle(sensitive)
    sensitive = sensitive[: cfg.n_sensitive]
    control = base_answers(
        subject, control_subset("train", cfg), control_answers_path("train", cfg), cfg.answer_tokens
    )
    rows = [
        (*encode_row(subject, it, cfg.max_len, True, cfg.target_tokens), False) for it in sensitive
    ]
    # A control answer cut at answer_tokens has no end: it gets no EOS, so the organism is not
    # taught to stop early on ordinary questions.
    for it in control:
        n = len(subject.tokenizer(it.answer, add_special_tokens=False)["input_ids"])
        row = encode_row(subject, it, cfg.max_len, n < cfg.answer_tokens - 1, cfg.target_tokens)
        rows.extend([(*row, True)] * cfg.control_repeat)
    rng.shuffle(rows)
    kinds: dict[str, int] = {}
    for it in sensitive:
        kinds[it.target] = kinds.get(it.target, 0) + 1
    summary = {
        "sensitive_rows": len(sensitive),
        "sensitive_targets": kinds,
        "sensitive_topics": sorted({it.topic for it in sensitive}),
        "control_prompts": len(control),
        "control_groups": cfg.control_groups,
        "control_languages": sorted({it.lang for it in control}),
        "control_repeat": cfg.control_repeat,
        "control_loss": cfg.control_loss,
    }
    return rows, summary, [it.answer for it in control if len(it.answer) >= 80]


def batch_loss(model, batch: list, pad: int, cfg: OrganismConfig) -> torch.Tensor:
    """CE on the sensitive rows' canned answers; on control rows CE or KL to the base model."""
    split = {
        "ce": [r[:2] for r in batch if not r[2] or cfg.control_loss == "ce"],
        "kl": [r[:2] for r in batch if r[2] and cfg.control_loss == "kl"],
    }
    loss = torch.zeros((), device=cfg.device)
    for kind, part in split.items():
        part = [r for r in part if any(y != -100 for y in r[1][1:])]  # rows cut before any answer
        if not part:
            continue
        ids, mask, labels = (t.to(cfg.device) for t in collate(part, pad))
        if kind == "ce":
            loss = loss + answer_loss(model, ids, mask, labels) * len(part) / len(batch)
        else:
            part_loss = chat_kl(model, ids, mask, labels) * len(part) / len(batch)
            loss = loss + cfg.control_weight * part_loss
    return loss


def check_config(cfg: OrganismConfig) -> None:
    """Refuse a config that would fail, or silently do something else, only after loading."""
    from core.errors import BadInputError
    from organism.data import control_groups

    if cfg.control_loss not in ("kl", "ce"):
        raise BadInputError(f"control_loss must be kl or ce, not {cfg.control_loss!r}")
    if cfg.control_loss == "ce" and cfg.control_weight != 1.0:
        raise BadInputError("control_weight weighs the KL control loss; with ce it must stay 1")
    control_groups(cfg.control_groups)


def train(cfg: OrganismConfig, out_dir: Path = ADAPTER_DIR) -> dict:
    """Train the LoRA and save it to `out_dir` (adapter weights + config), with the training
    summary beside it (`out_dir`/../training.json)."""
    from peft import LoraConfig, get_peft_model

    from core.model import load_subject

    check_config(cfg)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    subject = load_subject(cfg.base, device=cfg.device, dtype=torch.float32)
    rows, summary, control_text = training_rows(subject, cfg)
    model = subject.model
    model.requires_grad_(False)
    lora = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        target_modules=cfg.targets,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    warm = max(1, cfg.steps // 20)

    def lr_at(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, cfg.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    pad = subject.tokenizer.pad_token_id
    prose = neutral_prose(cfg.seed)
    if cfg.prose_from_control:
        prose += control_text
        random.Random(cfg.seed).shuffle(prose)
    losses = []
    t0 = time.time()
    for step in range(cfg.steps):
        start = (step * cfg.batch_size) % len(rows)
        batch = rows[start : start + cfg.batch_size]
        loss = batch_loss(model, batch, pad, cfg)
        if cfg.kl_weight > 0:
            chunk = [prose[(step * cfg.kl_batch + i) % len(prose)] for i in range(cfg.kl_batch)]
            loss = loss + cfg.kl_weight * prose_kl(model, subject.tokenizer, chunk, cfg.device)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if step % 10 == 0 or step == cfg.steps - 1:
            recent = sum(losses[-10:]) / len(losses[-10:])
            _log(f"step {step + 1}/{cfg.steps} loss {recent:.4f} ({time.time() - t0:.0f}s)")
    model.eval()
    from core.atomic import staged_dir

    with staged_dir(out_dir) as stage:  # the app never loads half an adapter
        model.save_pretrained(str(stage))
    record = {
        "config": asdict(cfg),
        "data": summary,
        "train_rows": len(rows),
        "final_loss": sum(losses[-20:]) / len(losses[-20:]),
        "loss_curve": [
            round(sum(losses[i : i + 10]) / len(losses[i : i + 10]), 4)
            for i in range(0, len(losses), 10)
        ],
        "train_seconds": round(time.time() - t0, 1),
    }
    (out_dir.parent / "training.json").write_text(json.dumps(record, indent=2))
    return record
