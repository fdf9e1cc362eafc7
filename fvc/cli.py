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
        if isinstance(value, bool):
            synth.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, action="store_true",
                               help=f"{field.name.replace('_', ' ')} (default: off)")  # fmt: skip
        elif isinstance(value, int):
            synth.add_argument(f"--{field.name}", type=int, default=value, help=f"default: {value}")
    synth.add_argument("--families", nargs="+", default=list(defaults.families), help="manipulation families to use")
    synth.add_argument("--workers", type=int, default=1, help="processes rendering scenes side by side (same bytes for any number)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_synth)

    models = commands.add_parser("models", help="list the registered models")
    models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'vit_*'")
    models.add_argument("--params", action="store_true", help="count the torch models' parameters, per choice (imports torch: seconds)")
    models.set_defaults(func=_models)

    query = commands.add_parser(
        "query",
        help="SQL over a results folder (DuckDB views: videos, folds, features, metrics, predictions, rejected...)",
        description="Run one read-only SELECT statement with DuckDB over the workflow's Parquet/CSV results; it\n"
        "reads only files under --results (no COPY, ATTACH, EXPORT, INSTALL or SET).\n\nviews:\n"
        + "\n".join(f"  {v.name:12s} {v.description}" for v in _query_views()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query.add_argument("sql", help='e.g. "SELECT model, avg(roc_auc) FROM metrics GROUP BY model"')
    query.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    query.set_defaults(func=_query)

    predict = commands.add_parser(
        "predict", help="score videos or images with trained models (mean over each model's folds)",
        description="Score files with trained fold models: the mean P(fake) over each model's folds, one row per\n"
        "(file, model). PATH may be a video or image file, a folder (every video/image below it, sorted;\n"
        "files under real/ and fake/ keep that label as true_label) or a CSV sample sheet (path,label[,group\n"
        "[,family]], paths relative to the sheet's folder). A file that cannot be read gets its error in the\n"
        "error column; a missing folder or sheet, an empty folder or a sheet without a path column stops here.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="video/image files, folders, CSV sample sheets")
    predict.add_argument("--model", required=True, help="a model the workflow trained (naive_cnn), a comma-separated list, or 'all'")
    predict.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    predict.add_argument("--format", choices=("csv", "json", "parquet"), default="csv", help="output format (default: csv; parquet needs --out)")
    predict.add_argument("--out", type=Path, help="write here (atomically) instead of standard output")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=_predict)

    export = commands.add_parser("export", help="export a trained torch fold model to TorchScript or ONNX, with a parity check")
    export.add_argument("--model", required=True)
    export.add_argument("--fold", type=int, required=True)
    export.add_argument("--format", choices=("torchscript", "onnx"), required=True)
    export.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    export.add_argument("--out", type=Path, help="file to write (default: <results>/exports/<model>/fold_<k>.{pt,onnx})")
    export.set_defaults(func=_export)

    weights = commands.add_parser(
        "weights", help="published pretrained weights: list them, pull them into the cache (on a machine with network access)",
        description="Published ImageNet / Kinetics-400 weights of the models that have them. Cache layout:\n"
        "  <cache>/weights/<source>/<file>          the publisher's file, byte for byte\n"
        "  <cache>/weights/<source>/<file>.sha256   its sha256, recorded when the download was verified\n"
        "cache: --cache, else config weights.cache, else $FVC_CACHE, else ~/.cache/fvc. Files already in\n"
        "torch.hub's cache ($TORCH_HOME) or the Hugging Face cache ($HF_HOME) are copied, not downloaded.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    weights_commands = weights.add_subparsers(dest="weights_command", required=True)
    weights_list = weights_commands.add_parser("list", help="which models have which published weights (size, licence, source, cached?)")
    weights_list.add_argument("--cache", type=Path, help="weights cache folder")
    weights_list.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    weights_list.set_defaults(func=_weights_list)
    weights_pull = weights_commands.add_parser("pull", help="download published weights into the cache, sha256-verified")
    weights_pull.add_argument("names", nargs="*", help="models (their registry defaults' weights) or weights tags from `fvc weights list`")
    weights_pull.add_argument("--config", type=Path, action="append", default=[],
                              help="a workflow config (repeatable, merged in order over the workflow's defaults): pull what its models need")  # fmt: skip
    weights_pull.add_argument("--cache", type=Path, help="weights cache folder (default: the config's weights.cache, $FVC_CACHE, ~/.cache/fvc)")
    weights_pull.add_argument("--quiet", action="store_true", help="no progress bar")
    weights_pull.set_defaults(func=_weights_pull)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def _synth(args: argparse.Namespace) -> int:
    from fvc.data.synth import SynthConfig, generate_corpus

    values = {f.name: getattr(args, f.name) for f in fields(SynthConfig) if hasattr(args, f.name)}
    values["families"] = tuple(args.families)
    try:
        cfg = SynthConfig(**values)
        table = generate_corpus(args.out_dir, cfg, progress=not args.quiet, workers=max(1, args.workers))
    except ValueError as exc:
        print(f"fvc synth: {exc}", file=sys.stderr)
        return 2
    counts = table["label"].value_counts().to_dict()
    print(f"wrote {len(table)} files to {args.out_dir} ({counts.get('real', 0)} real, {counts.get('fake', 0)} fake)")
    return 0


def _weights_list(args: argparse.Namespace) -> int:
    from fvc.models.hub import cache_root, catalogue
    from fvc.query import format_rows

    rows = catalogue(cache_root(args.cache))
    columns = list(rows[0])
    sys.stdout.write(format_rows(columns, [tuple(r.values()) for r in rows], args.format))
    return 0


def _weights_pull(args: argparse.Namespace) -> int:
    from fvc.models.hub import PUBLISHED, PretrainedError, cache_root, published_for, pull, weights_for_config
    from fvc.models.registry import get_spec, model_kwargs

    config = _workflow_config(args.config) if args.config else {}
    root = cache_root(args.cache or (config.get("weights") or {}).get("cache"))
    wanted = []
    try:
        for name in args.names:
            if name in PUBLISHED or name.startswith("timm/"):
                model = PUBLISHED[name].models[0] if name in PUBLISHED else "transfer"
                backbone = {"backbone": name.split("/", 1)[-1], "vit": name.split("/", 1)[-1]}
                wanted.append((model, published_for(model, backbone, name)))
            else:
                get_spec(name)
                wanted.append((name, published_for(name, model_kwargs(name))))
        wanted += weights_for_config(config) if config else []
    except (KeyError, PretrainedError) as exc:
        print(f"fvc weights pull: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    if not wanted:
        print("fvc weights pull: nothing to pull (name models or weights tags, or a --config whose models use pretrained: true)", file=sys.stderr)
        return 2
    failed = 0
    for weights in {w.tag: w for _, w in wanted}.values():
        users = ", ".join(sorted({m for m, w in wanted if w.tag == weights.tag}))
        try:
            cached = pull(weights, root, progress=not args.quiet)
        except (OSError, PretrainedError) as exc:
            print(f"fvc weights pull: {weights.tag} ({weights.url}): {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{weights.tag} ({users}): {cached.path} sha256 {cached.sha256}")
    return 1 if failed else 0


def _workflow_config(files: Sequence[Path]) -> dict:
    """The workflow's default config/config.yaml (when fvc runs from its checkout) with ``files`` merged over it
    key by key, as Snakemake's ``--configfile`` does."""
    import yaml

    from fvc.config import coerce_config

    def merged(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    default = Path(fvc.__file__).resolve().parents[1] / "config" / "config.yaml"
    config: dict = yaml.safe_load(default.read_text()) if default.is_file() else {}
    for path in files:
        config = merged(config, yaml.safe_load(path.read_text()) or {})
    return coerce_config(config)


def _predict(args: argparse.Namespace) -> int:
    from fvc.inference import InputError, expand_inputs, predict_table, resolve_models

    if args.format == "parquet" and not args.out:
        print("fvc predict: --format parquet writes a file: give --out FILE.parquet (Parquet is not written to standard output)", file=sys.stderr)
        return 2
    try:
        inputs = expand_inputs(args.paths)  # a typo in a folder or sheet name: one line, before any model loads
        # An unregistered name, an untrained model or a fold folder holding the wrong kind of file: one line.
        table = predict_table(inputs, args.results, resolve_models(args.results, args.model), progress=not args.quiet)
    except (InputError, FileNotFoundError, ValueError) as exc:
        print(f"fvc predict: {exc}", file=sys.stderr)
        return 2
    if args.format == "parquet":
        from fvc.io.atomic import write_parquet

        write_parquet(args.out, table)
    else:
        text = table.to_json(orient="records", indent=2) if args.format == "json" else table.to_csv(index=False)
        if args.out:
            from fvc.io.atomic import write_text

            write_text(args.out, text)
        else:
            sys.stdout.write(text)
    failed = table[table["error"] != ""].drop_duplicates(["path", "error"])
    for path, error in zip(failed["path"], failed["error"], strict=True):
        print(f"fvc predict: {path}: {error}", file=sys.stderr)
    if len(failed):
        files = table["path"].nunique()
        print(f"fvc predict: {failed['path'].nunique()} of {files} file(s) could not be scored (see the error column)", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    import json

    from fvc.inference import export_model

    try:
        report = export_model(args.results, args.model, args.fold, args.format, args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"fvc export: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


# Clip geometry for --params where a builder takes it (the default config's frames and clip clipsets); only the
# ViTs' position embeddings depend on it: the CNNs end in global pooling.
_COUNT_CLIP = {"frames": 4, "size": 32}


def _models(args: argparse.Namespace) -> int:
    """One line per model; a model with named choices (``deep_v1``'s ``variant``) gets a line per parameter."""
    import inspect

    from fvc.models import get_spec, list_models

    count = getattr(args, "params", False)
    if count:
        print(f"parameters (M) of torch models with their registry defaults, at {_COUNT_CLIP['frames']} frames of "
              f"{_COUNT_CLIP['size']}x{_COUNT_CLIP['size']} where the builder takes a clip size")  # fmt: skip
    for name in list_models(args.pattern):
        spec = get_spec(name)
        gpu = "gpu" if spec.needs_gpu else "cpu"
        size = f"{_parameters(name):>7.2f}M " if count and spec.kind == "torch" else " " * 9 if count else ""
        print(f"{name:28s} {spec.kind:8s} {spec.input:9s} {gpu}  {size}{spec.description}")
        builder = inspect.signature(spec.builder).parameters
        for key, values in spec.choices.items():
            default = spec.default_params.get(key, builder[key].default)
            shown = []
            for value in values:
                text = f"{value} (default)" if value == default else str(value)
                if count and spec.kind == "torch":
                    text += f" {_parameters(name, {key: value}):.2f}M"
                shown.append(text)
            print(f"{'':28s}   {key}: {' | '.join(shown)}")
    return 0


def _parameters(name: str, overrides: dict | None = None) -> float:
    """Millions of parameters of ``name`` built on PyTorch's meta device (no memory, no initialisation)."""
    import torch

    from fvc.models import create
    from fvc.models.registry import model_kwargs

    with torch.device("meta"):
        model = create(name, **model_kwargs(name, {"pretrained": False, **(overrides or {})}, _COUNT_CLIP))
    return sum(p.numel() for p in model.parameters()) / 1e6


def _query_views() -> tuple:
    # fvc.query loads DuckDB only when a query runs, so listing its views here costs nothing.
    from fvc.query import VIEWS

    return VIEWS


def _query(args: argparse.Namespace) -> int:
    from fvc.query import QueryError, format_rows, run_query

    try:
        columns, rows = run_query(args.sql, args.results)
    except QueryError as exc:
        print(f"fvc query: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(format_rows(columns, rows, args.format))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
