"""A Qwen3-8B-shaped subject with random weights (speed does not depend on the values).

The reference model (DeepSeek-R1-0528-Qwen3-8B) cannot be downloaded here; its config can be
written down: 36 layers, d_model 4096, 32 heads, 8 KV heads, head dim 128, FFN 12288, vocab 151,936.
The tokenizer is the tiny one trained on the spot: token ids only need to be valid.
"""

import torch

from core.model import Subject
from core.sae import LoadedSae, RuntimeTopK, RuntimeTopKConfig

QWEN3_8B = dict(
    vocab_size=151_936,
    hidden_size=4096,
    intermediate_size=12_288,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=40_960,
    rope_theta=1_000_000.0,
    tie_word_embeddings=False,
)


def build_subject(device: str = "cuda", dtype=torch.bfloat16, **overrides) -> Subject:
    from transformers import AutoModelForCausalLM, Qwen3Config

    from core.tiny import train_tiny_tokenizer

    tokenizer = train_tiny_tokenizer()
    cfg = Qwen3Config(**{**QWEN3_8B, **overrides})
    cfg.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    cfg.pad_token_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.generation_config.eos_token_id = cfg.eos_token_id
    model.generation_config.pad_token_id = cfg.pad_token_id
    model.eval().requires_grad_(False)
    return Subject(
        model=model, tokenizer=tokenizer, source="qwen3-8b-shaped", name="Qwen3-8B-shaped (random)"
    )


def build_sae(subject: Subject, layer: int = 18, d_sae: int = 12_288, k: int = 96) -> LoadedSae:
    cfg = RuntimeTopKConfig(d_in=subject.d_model, d_sae=d_sae, k=k)
    sae = RuntimeTopK(cfg, dtype=subject.dtype, device=subject.device)
    return LoadedSae(sae=sae, hook_name=f"model.layers.{layer}", path="<random>")
