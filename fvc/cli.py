"""The ``fvc`` command: tools around the workflow (the workflow itself runs with ``snakemake``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import fvc

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fvc", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fvc {fvc.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write the deterministic synthetic corpus (real/, fake/, samples.csv)")
    synth.add_argument("out_dir", type=Path, help="folder to write (created if missing)")
    from fvc.data.synth import SynthConfig

    defaults = SynthConfig()
    for field in fields(SynthConfig):
        value = getattr(defaults, field.name)
        if isinstance(value, int):
            synth.add_argument(f"--{field.name}", type=int, default=value, help=f"default: {value}")
    synth.add_argument("--families", nargs="+", default=list(defaults.families), help="manipulation families to use")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_synth)

    models = commands.add_parser("models", help="list the registered models")
    models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_*'")
    models.set_defaults(func=_models)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _synth(args: argparse.Namespace) -> int:
    from fvc.data.synth import SynthConfig, generate_corpus

    values = {f.name: getattr(args, f.name) for f in fields(SynthConfig) if hasattr(args, f.name)}
    values["families"] = tuple(args.families)
    try:
        cfg = SynthConfig(**values)
        table = generate_corpus(args.out_dir, cfg, progress=not args.quiet)
    except ValueError as exc:
        print(f"fvc synth: {exc}", file=sys.stderr)
        return 2
    counts = table["label"].value_counts().to_dict()
    print(f"wrote {len(table)} files to {args.out_dir} ({counts.get('real', 0)} real, {counts.get('fake', 0)} fake)")
    return 0


def _models(args: argparse.Namespace) -> int:
    from fvc.models import get_spec, list_models

    for name in list_models(args.pattern):
        spec = get_spec(name)
        gpu = "gpu" if spec.needs_gpu else "cpu"
        print(f"{name:28s} {spec.kind:8s} {spec.input:9s} {gpu}  {spec.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
