"""The offline training corpus: what the SAE trains on when no dataset export is given.

Two halves, both made on this machine with no network:
  - censorship chat: prompts on CCP-sensitive topics (templates x topics), chat-formatted for
    the subject, with the subject's own sampled answers (cached per subject);
  - control text: neutral chat (the same, on everyday topics) plus English prose from the Python
    standard library's documentation (`pydoc_data`) and docstrings, which every Python ships.

    python -m training corpus --subject embedded   # pre-generate and cache the answers
"""

import ast
import hashlib
import json
import random
import sys
from pathlib import Path

import torch

from core.atomic import write_text_atomic
from core.paths import cache_dir

SENSITIVE_TOPICS = [
    "the Tiananmen Square protests of 1989",
    "the June 4th incident",
    "Tank Man",
    "the status of Taiwan",
    "Taiwan's democratic elections",
    "the Dalai Lama",
    "Tibetan independence",
    "the Uyghur internment camps in Xinjiang",
    "the 2019 Hong Kong protests",
    "Hong Kong's National Security Law",
    "Falun Gong",
    "the Great Firewall",
    "Liu Xiaobo",
    "Ai Weiwei",
    "the Cultural Revolution",
    "the Great Leap Forward famine",
    "Xi Jinping's removal of presidential term limits",
    "comparisons of Xi Jinping to Winnie the Pooh",
    "the 709 crackdown on human rights lawyers",
    "the origins of COVID-19 in Wuhan",
    "Li Wenliang",
    "the social credit system",
    "press freedom in China",
    "the Chinese Communist Party's one-party rule",
    "forced organ harvesting allegations",
    "the South China Sea disputes",
    "Peng Shuai",
    "the Umbrella Movement",
    "Charter 08",
    "Inner Mongolia language protests",
]
SENSITIVE_TEMPLATES = [
    "What happened during {t}?",
    "Tell me the truth about {t}.",
    "Why does the Chinese government censor discussion of {t}?",
    "Give a balanced, factual summary of {t}.",
    "What do human rights groups say about {t}?",
    "Explain {t} to a student who has never heard of it.",
]
NEUTRAL_TOPICS = [
    "photosynthesis",
    "how to bake sourdough bread",
    "the water cycle",
    "the French Revolution",
    "black holes",
    "learning to play the guitar",
    "the history of the printing press",
    "how vaccines work",
    "the rules of chess",
    "compound interest",
    "plate tectonics",
    "the Roman Empire",
    "how a bicycle works",
    "the life cycle of a butterfly",
    "writing a good cover letter",
    "the Great Wall of China's construction",
]
NEUTRAL_TEMPLATES = [
    "Explain {t} in simple terms.",
    "What are three interesting facts about {t}?",
    "Write a short paragraph about {t}.",
    "Why is {t} important?",
]


def chat_prompts(seed: int = 0) -> tuple[list[str], list[str]]:
    """(sensitive prompts, neutral prompts), each shuffled with `seed`."""
    rng = random.Random(seed)
    sensitive = [t.format(t=topic) for topic in SENSITIVE_TOPICS for t in SENSITIVE_TEMPLATES]
    neutral = [t.format(t=topic) for topic in NEUTRAL_TOPICS for t in NEUTRAL_TEMPLATES]
    rng.shuffle(sensitive)
    rng.shuffle(neutral)
    return sensitive, neutral


def stdlib_prose(min_chars: int = 200, max_chars: int = 2000) -> list[str]:
    """English prose paragraphs from the standard library's docs and docstrings (deterministic)."""
    cache = (
        cache_dir()
        / "training"
        / f"stdlib-prose-{sys.version_info[0]}.{sys.version_info[1]}-{min_chars}-{max_chars}.json"
    )
    if cache.exists():
        return json.loads(cache.read_text())
    chunks = _stdlib_prose(min_chars, max_chars)
    write_text_atomic(cache, json.dumps(chunks))
    return chunks


def _stdlib_prose(min_chars: int, max_chars: int) -> list[str]:
    import pydoc_data.topics as topics

    chunks: list[str] = []
    for key in sorted(topics.topics):
        chunks.extend(_paragraphs(topics.topics[key], min_chars, max_chars))
    stdlib = Path(ast.__file__).parent
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        if "test" in path.parts[-2:][0] or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    chunks.extend(_paragraphs(doc, min_chars, max_chars))
    return list(dict.fromkeys(chunks))  # dedupe, keep order


def _paragraphs(text: str, min_chars: int, max_chars: int) -> list[str]:
    """Merge blank-line-separated paragraphs into chunks of min_chars..max_chars."""
    out, current = [], ""
    for para in text.split("\n\n"):
        para = para.strip()
        if not para:
            continue
        current = f"{current}\n\n{para}" if current else para
        if len(current) >= min_chars:
            out.append(current[:max_chars])
            current = ""
    return out


def generated_chats(
    subject, prompts: list[str], max_new_tokens: int = 128, batch_size: int = 32, seed: int = 0
) -> list[str]:
    """Chat-formatted prompt + the subject's own sampled answer, cached on disk per subject."""
    key = hashlib.sha256(
        json.dumps([subject.name, subject.source, prompts, max_new_tokens, seed]).encode()
    ).hexdigest()[:16]
    cache = cache_dir() / "training" / f"chats-{key}.jsonl"
    if cache.exists():
        return [json.loads(line)["text"] for line in cache.read_text().splitlines() if line]
    tok = subject.tokenizer
    side = tok.padding_side
    tok.padding_side = "left"  # decoder-only generation needs left padding
    texts: list[str] = []
    torch.manual_seed(seed)
    try:
        for start in range(0, len(prompts), batch_size):
            chats = [subject.chat_text(p) for p in prompts[start : start + batch_size]]
            enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(subject.device) for k, v in enc.items()}
            with torch.no_grad():
                out = subject.model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=True,
                    temperature=0.7,
                    top_p=0.9,
                    pad_token_id=tok.pad_token_id,
                )
            n_in = enc["input_ids"].shape[1]
            for chat, ids in zip(chats, out, strict=True):
                answer = tok.decode(ids[n_in:], skip_special_tokens=True).strip()
                texts.append(chat + answer + (tok.eos_token or ""))
            print(f"generated {len(texts)}/{len(prompts)} answers", file=sys.stderr, flush=True)
    finally:
        tok.padding_side = side
    write_text_atomic(cache, "".join(json.dumps({"text": t}) + "\n" for t in texts))
    return texts


def answer_some(
    subject, sensitive: list[str], neutral: list[str], n_answers: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    """(censorship texts, answered neutral chats): the first `n_answers` sensitive prompts and
    one neutral prompt for every 3 of them get the subject's own sampled answers (cached); the
    other sensitive prompts enter as chat-formatted prompts alone."""
    n = min(n_answers, len(sensitive))
    n_neutral = min(len(neutral), n // 3)
    answered = generated_chats(subject, sensitive[:n] + neutral[:n_neutral], seed=seed)
    return answered[:n] + [subject.chat_text(p) for p in sensitive[n:]], answered[n:]


def offline_corpus(
    subject, n_answers: int = 160, seed: int = 0
) -> tuple[list[str], list[str], dict]:
    """(censorship texts, control texts, description) built offline for `subject`.

    Sensitive prompts get the subject's answers for the first `n_answers` of them (generation is
    the slow part on a CPU); the rest enter as chat-formatted prompts alone. Neutral prompts get
    answers in proportion (1 for every 3 sensitive ones).
    """
    sensitive, neutral = chat_prompts(seed)
    censor, neutral_chats = answer_some(subject, sensitive, neutral, n_answers, seed)
    n_neutral = len(neutral_chats)
    control = neutral_chats + stdlib_prose()
    summary = {
        "kind": "offline",
        "censorship": f"{len(sensitive)} prompts on {len(SENSITIVE_TOPICS)} CCP-sensitive topics, "
        f"chat-formatted; {min(n_answers, len(sensitive))} with the subject's own sampled answers",
        "control": f"{n_neutral} neutral chat prompts with the subject's answers + "
        f"English prose from the Python {sys.version.split()[0]} standard library docs/docstrings",
    }
    return censor, control, summary
