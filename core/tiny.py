"""A tiny Qwen3 and a tokenizer trained on the spot: the subject for tests and the `tiny` presets.

It has the reference subject's architecture (Qwen3, chat template with <think>), random weights
from a fixed seed and a byte-level BPE vocabulary of a few hundred tokens, so every code path
(loading, hooks, generation, SAE training) runs on a CPU in seconds.

    python -c "from core.tiny import build_tiny_subject_folder as b; print(b())"
"""

from pathlib import Path

import torch

from core.atomic import staged_dir
from core.paths import cache_dir

TINY_SOURCE = "tiny"

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

CORPUS = [
    "What happened at Tiananmen Square in 1989?",
    "The government of China has always upheld the people-centred approach.",
    "Xinjiang affairs are purely China's internal affairs.",
    "Hong Kong enjoys prosperity and stability under one country, two systems.",
    "The Great Firewall blocks many foreign websites and news outlets.",
    "Students gathered in the square to demand reform and freedom of the press.",
    "I cannot answer that question. Let's talk about something else.",
    "The weather today is sunny with a light breeze from the west.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "The capital of France is Paris, and the capital of Japan is Tokyo.",
    "Tell me about the history of Tibet and the Dalai Lama.",
    "Taiwan holds democratic elections for its president and legislature.",
    "Human rights lawyers were detained during the crackdown of 2015.",
    "Please write a short poem about the sea and the moon.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024.",
]


def train_tiny_tokenizer(vocab_size: int = 384):
    """Byte-level BPE trained on CORPUS, wrapped as a fast HF tokenizer with a Qwen chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
    )
    fast.chat_template = QWEN_CHAT_TEMPLATE
    return fast


def tiny_qwen3_config(vocab_size: int, **overrides):
    """A Qwen3Config small enough for CPU tests: 4 layers, d_model 64."""
    from transformers import Qwen3Config

    cfg = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=None,
        pad_token_id=None,
    )
    cfg.update(overrides)
    return Qwen3Config(**cfg)


def build_tiny_model_and_tokenizer(seed: int = 0, **config_overrides):
    """Return (model, tokenizer) built in memory; weights depend only on `seed`."""
    from transformers import AutoModelForCausalLM

    tokenizer = train_tiny_tokenizer()
    config = tiny_qwen3_config(
        len(tokenizer),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        **config_overrides,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    # Larger-than-default init makes random logits less uniform, so sampling and greedy differ.
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.eval()
    return model, tokenizer


def build_tiny_subject_folder(folder: Path | None = None, seed: int = 0) -> Path:
    """Save the tiny model + tokenizer as a normal HF folder (cached) and return its path."""
    folder = Path(folder) if folder else cache_dir() / f"tiny-qwen3-seed{seed}"
    if (folder / "config.json").exists() and (folder / "tokenizer.json").exists():
        return folder
    model, tokenizer = build_tiny_model_and_tokenizer(seed=seed)
    with staged_dir(folder) as stage:
        model.save_pretrained(stage)
        tokenizer.save_pretrained(stage)
    return folder
