"""``fvc query``: SQL over a results folder with DuckDB, each output table registered as a view.

The workflow's outputs are Parquet and CSV files spread over many folders (one predictions file per model
and fold). DuckDB reads them where they lie, so a question such as "which videos does every model get
wrong?" is one SQL statement instead of a pandas script, and nothing is copied or converted.

Views (those whose files exist; see ``VIEWS``): ``videos``, ``folds``, ``features`` (every clipset, with a
``clipset`` column), ``metrics``, ``predictions`` (every fold, with ``model``), ``rejected``, plus
``summary``, ``paired`` and ``registry`` from the comparison, and ``hpo_trials`` (every search's trials).

A query is one read-only ``SELECT`` (``FROM``-first, ``WITH``, ``DESCRIBE``, ``SUMMARIZE`` and ``SHOW`` are
SELECTs to DuckDB): COPY, ATTACH, EXPORT, INSTALL, SET and the like are refused before anything runs, and
the connection itself may read only files under the results folder (``allowed_directories`` with
``enable_external_access`` off, no extension installs or autoloads, no spill directory, the configuration
locked), so ``read_text('/etc/passwd')`` or ``glob('/root/*')`` fail with a permission error. Symbolic
links inside the results folder are followed: what they point to is readable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["FORMATS", "VIEWS", "QueryError", "View", "check_statement", "connect", "format_rows", "run_query"]

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class View:
    name: str
    patterns: tuple[str, ...]  # candidates relative to the results folder; the first that matches is used
    select: str  # SQL with {src} for the quoted path or glob
    description: str


def _named_by_path(column: str, pattern: str, where: str = "") -> str:
    """Every file of a glob in one view, with ``column`` read from each file's path by ``pattern``'s group 1."""
    return (f"SELECT regexp_extract(filename, '{pattern}', 1) AS {column}, * EXCLUDE (filename) "
            f"FROM read_parquet({{src}}, filename = true, union_by_name = true){where}")  # fmt: skip


# The regular expressions read the model and clipset from the file's path (DuckDB's filename column).
VIEWS: tuple[View, ...] = (
    View("videos", ("index/videos.parquet",), "SELECT * FROM read_parquet({src})",
         "one row per indexed video: video_id, path, label, group, family, size, codec..."),
    View("folds", ("splits/folds.parquet",), "SELECT * FROM read_parquet({src})",
         "video_id, group, label, fold"),
    View("features", ("features/*.parquet",),
         _named_by_path("clipset", r"([^/\\]+)\.parquet$",
                        r" WHERE NOT regexp_matches(filename, '[/\\]\.[^/\\]+$')"),  # an atomic write's hidden temp file
         "merged features of every clipset (clipset, video_id, copy, feature columns)"),
    View("metrics", ("compare/metrics.parquet",), "SELECT * FROM read_parquet({src})",
         "model x fold x level (video, clip) metrics"),
    View("predictions", ("models/*/fold_*/predictions.parquet",),
         _named_by_path("model", r"([^/\\]+)[/\\]fold_[0-9]+[/\\]predictions\.parquet$"),
         "every fold's validation predictions: model, video_id, copy, fold, label (1 = fake), score = P(fake)"),
    View("rejected", ("rejected.csv", "index/rejected.csv"), "SELECT * FROM read_csv({src}, header = true, all_varchar = true)",
         "every input left out, with the stage and reason"),
    View("summary", ("compare/summary.csv",), "SELECT * FROM read_csv({src}, header = true)",
         "mean and std over folds per model (video level)"),
    View("paired", ("compare/paired.csv",), "SELECT * FROM read_csv({src}, header = true)",
         "paired model comparison: AUC differences, bootstrap CI, Wilcoxon p"),
    View("registry", ("registry.json",), "SELECT * FROM read_json({src})",
         "model files with metrics, params, config hash and code version"),
    View("test_predictions", ("test/*/*/*/predictions.parquet",),
         "SELECT regexp_extract(filename, '([^/\\\\]+)[/\\\\][^/\\\\]+[/\\\\][^/\\\\]+[/\\\\]predictions\\.parquet$', 1) AS test_set, "
         "regexp_extract(filename, '([^/\\\\]+)[/\\\\][^/\\\\]+[/\\\\]predictions\\.parquet$', 1) AS model, "
         "regexp_extract(filename, '([^/\\\\]+)[/\\\\]predictions\\.parquet$', 1) AS part, "
         "* EXCLUDE (filename) FROM read_parquet({src}, filename = true, union_by_name = true)",
         "external test sets, per video: test_set, model, part (fold_<k> or ensemble), video_id, label, score, in_training, family"),
    View("test_metrics", ("compare/test_summary.csv",), "SELECT * FROM read_csv({src}, header = true)",
         "test_summary.csv: test_set x model x level (video, clip, family:<name>), mean/std over folds, ensemble, cv AUC"),
    View("hpo_trials", ("hpo/*/trials.parquet",),
         _named_by_path("model", r"([^/\\]+)[/\\]trials\.parquet$"),
         "every hyper-parameter search trial: model, number, state, value, seconds, interrupted, param_<name>..."),
)  # fmt: skip


class QueryError(Exception):
    """A query that cannot run; the message names the views that exist and those that do not."""


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _source(results: Path, view: View) -> str | None:
    for pattern in view.patterns:
        if any(results.glob(pattern)):
            return (results / pattern).as_posix()
    return None


def connect(results: str | Path = "results") -> tuple[duckdb.DuckDBPyConnection, dict[str, str | None]]:
    """An in-memory DuckDB connection with a view per results table that exists, confined to ``results``.

    Returns the connection and ``{view: source path or glob, or None when its files are missing}``. Paths
    are absolute, so the views work whatever the working directory is later. The connection reads only
    files under the resolved results folder and cannot change that (see the module docstring).
    """
    import duckdb  # imported here so that listing the views (``fvc query --help``) does not load DuckDB

    root = Path(results).resolve()
    if not root.is_dir():
        raise QueryError(f"results folder {results} does not exist")
    con = duckdb.connect(":memory:")
    try:
        _confine(con, root)
        sources: dict[str, str | None] = {}
        for view in VIEWS:
            src = _source(root, view)
            sources[view.name] = src
            if src is not None:
                con.execute(f"CREATE VIEW {view.name} AS {view.select.format(src=_sql_string(src))}")
    except BaseException:
        con.close()
        raise
    return con, sources


# In this order: DuckDB refuses to change allowed_directories once external access is off. A trailing
# separator, so that "<results>2/" is not a prefix match. No temp directory: DuckDB would add it (".tmp"
# under the working directory) to the allowed directories. The lock refuses every later SET and RESET.
def _confine(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    allowed = root.as_posix().rstrip("/") + "/"
    for statement in (
        "SET temp_directory = ''",
        f"SET allowed_directories = [{_sql_string(allowed)}]",
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET lock_configuration = true",
    ):
        con.execute(statement)


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one SELECT (parsed by DuckDB, nothing run)."""
    import duckdb

    statements = con.extract_statements(sql)
    if len(statements) != 1:
        got = "no statement" if not statements else f"{len(statements)} statements"
        raise QueryError(f"fvc query runs one read-only SELECT statement; got {got}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        words = statements[0].query.split()
        keyword = words[0].upper() if words else kind.name
        what = keyword if keyword == kind.name else f"{keyword} (a {kind.name} statement)"
        raise QueryError(f"fvc query runs one read-only SELECT statement; got {what}")


def run_query(sql: str, results: str | Path = "results") -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SELECT ``sql`` against the views of ``results``; returns column names and rows."""
    import duckdb

    con, sources = connect(results)
    try:
        check_statement(con, sql)
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        present = ", ".join(name for name, src in sources.items() if src) or "none"
        missing = [f"{v.name} ({' or '.join(v.patterns)})" for v in VIEWS if sources[v.name] is None]
        hint = f"\nviews: {present}" + (f"\nnot found under {results}: {', '.join(missing)}" if missing else "")
        if isinstance(exc, duckdb.PermissionException):
            hint = f"\nfvc query reads only files under the results folder ({Path(results).resolve()})" + hint
        raise QueryError(f"{exc}{hint}") from None
    finally:
        con.close()


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    """Render a result as an aligned text table, CSV, or a JSON list of objects (NaN becomes null)."""
    if fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        return json.dumps(records, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
        return buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    if not columns:
        return ""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row[i]) or row[i] is None for row in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
