"""`python -m core features`: search features by meaning, or print one feature's dashboard.

    python -m core features --search "refusal" --json
    python -m core features --feature 123 --sae assets/sae/embedded --json

No model is loaded: everything comes from the SAE folder's dashboard and card. The default SAE
is the one the app runs by default (the organism's).
"""

from dataclasses import asdict


def add_features_parser(sub) -> None:
    p = sub.add_parser("features", help="search features by meaning, or show one's dashboard")
    p.add_argument("--sae", default=None, help="SAE folder (default: the app's default SAE)")
    p.add_argument("--search", default=None, help="words or a meaning, e.g. 'refusal'")
    p.add_argument("--feature", type=int, default=None, help="a feature id: its dashboard")
    p.add_argument("--top", type=int, default=10, help="search hits to list")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def run_features(args) -> dict:
    from core.dashboard import load_feature_dashboard
    from core.errors import BadInputError
    from core.feature_search import search_features
    from core.model import ORGANISM_SOURCE
    from core.settings import default_sae_for

    sae_dir = args.sae or default_sae_for(ORGANISM_SOURCE)
    if args.search is None and args.feature is None:
        raise BadInputError("give --search WORDS or --feature ID")
    out: dict = {"sae": str(sae_dir)}
    if args.search is not None:
        out["query"] = args.search
        out["hits"] = [h.to_json() for h in search_features(sae_dir, args.search, args.top)]
    if args.feature is not None:
        out["feature"] = asdict(load_feature_dashboard(sae_dir, args.feature))
    return out
