"""Command line of the dataset builder.

    python -m data_builder build --offline --limit 200     # prompts, answers, judgements, control
    python -m data_builder report                          # PNG + HTML under data/report/
    python -m data_builder export                          # datasets.Dataset for SAE training
    python -m data_builder status                          # rows in the store

Add --json for a JSON summary on stdout; progress goes to stderr. Errors a person can fix print
one line (no traceback) and exit with status 2; Ctrl-C keeps every stored row and exits 130.
"""

import argparse
import dataclasses
import json
import sys
import typing

from core.errors import CensorscopeError


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    from data_builder.config import BuildConfig, field_help

    helps = field_help()
    hints = typing.get_type_hints(BuildConfig)
    for f in dataclasses.fields(BuildConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=helps[f.name])
            continue
        if typing.get_origin(kind) is typing.Literal:
            choices, conv = typing.get_args(kind), str
        else:
            base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
            choices, conv = None, base if base in (int, float) else str
        parser.add_argument(
            flag,
            type=conv,
            choices=choices,
            default=f.default,
            help=f"{helps[f.name]} (default: {f.default})",
        )


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chroma-path", help="embedded store folder (default data/chroma)")
    parser.add_argument("--chroma-url", help="chroma server URL (default: CHROMA_URL)")


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m data_builder", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate, dedupe, answer, judge, store, add control text")
    _add_config_flags(build)
    report = sub.add_parser("report", help="write the report figures (PNG + HTML)")
    report.add_argument("--out", help="folder (default data/report)")
    export = sub.add_parser("export", help="save training texts as a datasets.Dataset")
    export.add_argument("--out", help="folder (default data/export/training_texts)")
    status = sub.add_parser("status", help="row counts of the store")
    for p in (report, export, status):
        _store_flags(p)
    for p in (build, report, export, status):
        p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from core.store import open_store

    if args.command == "build":
        from data_builder.config import BuildConfig
        from data_builder.pipeline import build

        names = {f.name for f in dataclasses.fields(BuildConfig)}
        config = BuildConfig(**{k: v for k, v in vars(args).items() if k in names})
        return build(config)
    store = open_store(args.chroma_path, args.chroma_url)
    if args.command == "report":
        from data_builder.report import write_report

        return write_report(store, args.out)
    if args.command == "export":
        from data_builder.export import export

        return export(store, args.out)
    return {"store": store.where, **store.counts()}


def main(argv=None) -> int:
    args = parse(argv)
    try:
        result = run(args)
    except CensorscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every row stored so far is kept; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
