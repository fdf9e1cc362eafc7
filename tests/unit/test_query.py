"""``fvc query``: the views over a tiny results tree built here, the README's example queries, the formats."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest

from fvc.cli import main
from fvc.io.atomic import write_json, write_parquet
from fvc.query import QueryError, connect, format_rows, run_query
from tests.conftest import REPO

# video_id -> (label, family, group, fold)
VIDEOS = {
    "r1": ("real", "none", "g1", 0), "f1": ("fake", "splice", "g1", 0),
    "r2": ("real", "none", "g2", 1), "f2": ("fake", "flicker", "g2", 1),
}  # fmt: skip
# (model, video_id) -> score; model "good" is right on every video, "bad" wrong on f2 and r2.
SCORES = {
    ("good", "r1"): 0.1, ("good", "f1"): 0.9, ("good", "r2"): 0.2, ("good", "f2"): 0.8,
    ("bad", "r1"): 0.3, ("bad", "f1"): 0.6, ("bad", "r2"): 0.7, ("bad", "f2"): 0.4,
}  # fmt: skip


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    videos = pd.DataFrame([{"video_id": v, "path": f"{lab}/{v}.mp4", "label": lab, "group": g, "family": fam}
                           for v, (lab, fam, g, _) in VIDEOS.items()])  # fmt: skip
    write_parquet(root / "index" / "videos.parquet", videos)
    write_parquet(root / "splits" / "folds.parquet", pd.DataFrame(
        [{"video_id": v, "group": g, "label": lab, "fold": k} for v, (lab, _, g, k) in VIDEOS.items()]))  # fmt: skip
    write_parquet(root / "features" / "forensic.parquet", pd.DataFrame(
        {"video_id": list(VIDEOS), "copy": 0, "noise_std_mean": [1.0, 3.0, 2.0, 5.0]}))  # fmt: skip
    # A second clipset with an augmented copy and a column of its own: the view unions them by name.
    write_parquet(root / "features" / "small.parquet", pd.DataFrame(
        {"video_id": ["r1", "r1"], "copy": [0, 1], "noise_std_mean": [10.0, 99.0], "extra": [1.0, 2.0]}))  # fmt: skip
    # A shard table below a clipset folder is not a merged table and must not be read.
    write_parquet(root / "features" / "forensic" / "shard_0.parquet", pd.DataFrame({"video_id": ["zz"], "copy": [0]}))
    # Nor is the hidden temp file of a merge that is being written (fvc.io.atomic).
    pd.DataFrame({"video_id": ["zz"], "copy": [0]}).to_parquet(root / "features" / ".small.parquet.x1.tmp.parquet")
    metrics = []
    for model, aucs in (("good", (1.0, 1.0)), ("bad", (0.6, 0.4))):
        for fold, auc in enumerate(aucs):
            metrics += [{"model": model, "fold": fold, "level": level, "roc_auc": auc} for level in ("video", "clip")]
    write_parquet(root / "compare" / "metrics.parquet", pd.DataFrame(metrics))
    for model in ("good", "bad"):
        for fold in (0, 1):
            rows = [{"video_id": v, "copy": 0, "fold": k, "label": int(lab == "fake"), "score": SCORES[model, v]}
                    for v, (lab, _, _, k) in VIDEOS.items() if k == fold]  # fmt: skip
            write_parquet(root / "models" / model / f"fold_{fold}" / "predictions.parquet", pd.DataFrame(rows))
    pd.DataFrame({"video_id": ["", "", ""], "path": ["a.mp4", "b.txt", "c.mp4"], "stage": ["index", "index", "index"],
                  "reason": ["empty file", "not a video", "empty file"]}).to_csv(root / "rejected.csv", index=False)  # fmt: skip
    pd.DataFrame({"model": ["good", "bad"], "folds": 2, "roc_auc_mean": [1.0, 0.5]}).to_csv(root / "compare" / "summary.csv", index=False)
    pd.DataFrame({"model_a": ["bad"], "model_b": ["good"], "auc_diff": [-0.5], "wilcoxon_p": [float("nan")],
                  "note": ["Wilcoxon needs >= 5 folds, have 2"]}).to_csv(root / "compare" / "paired.csv", index=False)  # fmt: skip
    write_json(root / "registry.json", [{"model": "good", "fold": 0, "config_hash": "abc", "metrics": {"roc_auc": 1.0}}])
    write_parquet(root / "hpo" / "good" / "trials.parquet", pd.DataFrame(
        {"number": [0, 1, 2], "state": ["COMPLETE", "PRUNED", "COMPLETE"], "value": [0.7, 0.4, 0.8], "param_C": [0.1, 1.0, 10.0]}))
    write_parquet(root / "hpo" / "bad" / "trials.parquet", pd.DataFrame({"number": [0], "state": ["COMPLETE"], "value": [0.5], "param_lr": [0.01]}))
    # An external test set: per-video scores of each fold model and the ensemble, and the summary table.
    for part, score in (("fold_0", 0.2), ("fold_1", 0.4), ("ensemble", 0.3)):
        write_parquet(root / "test" / "other" / "good" / part / "predictions.parquet",
                      pd.DataFrame({"video_id": ["t1", "t2"], "label": [0, 1], "score": [score, 1 - score], "in_training": False}))  # fmt: skip
    # The test set's own clip shards and features are not predictions.
    write_parquet(root / "test" / "other" / "clips" / "forensic" / "shard_0" / "manifest.parquet", pd.DataFrame({"video_id": ["t1"]}))
    pd.DataFrame({"test_set": ["other"], "model": ["good"], "level": ["video"], "roc_auc_mean": [1.0]}).to_csv(
        root / "compare" / "test_summary.csv", index=False)  # fmt: skip
    return root


def readme_queries() -> list[list[str]]:
    """The ``fvc query`` command lines of the README's SQL section, as argument lists."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Querying results with SQL") :]
    start = section.index("```bash") + len("```bash")
    block = section[start : section.index("```", start)]
    commands: list[list[str]] = []
    for token in shlex.split(block, comments=True):
        if token == "fvc":
            commands.append([])
        else:
            commands[-1].append(token)
    assert all(c[0] == "query" for c in commands)
    return [c[1:] for c in commands]


def _rows(sql: str, results: Path) -> list[dict]:
    columns, rows = run_query(sql, results)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_every_view_is_registered_with_its_rows(results):
    con, sources = connect(results)
    con.close()
    assert all(sources.values()), sources
    assert _rows("SELECT count(*) AS n FROM videos", results) == [{"n": 4}]
    assert _rows("SELECT count(*) AS n FROM folds WHERE fold = 1", results) == [{"n": 2}]
    assert _rows("SELECT count(*) AS n FROM rejected", results) == [{"n": 3}]
    assert _rows("SELECT config_hash FROM registry", results) == [{"config_hash": "abc"}]
    assert _rows("SELECT model FROM summary ORDER BY roc_auc_mean DESC LIMIT 1", results) == [{"model": "good"}]
    assert _rows("SELECT auc_diff, wilcoxon_p IS NULL AS no_p FROM paired", results) == [{"auc_diff": -0.5, "no_p": True}]
    assert _rows("SELECT model, max(value) AS best, count(param_C) AS with_c FROM hpo_trials GROUP BY model ORDER BY model", results) == [
        {"model": "bad", "best": 0.5, "with_c": 0}, {"model": "good", "best": 0.8, "with_c": 3}]
    assert _rows("SELECT test_set, model, part, count(*) AS n, round(avg(score), 2) AS mean FROM test_predictions GROUP BY ALL ORDER BY ALL",
                 results) == [{"test_set": "other", "model": "good", "part": p, "n": 2, "mean": 0.5} for p in ("ensemble", "fold_0", "fold_1")]  # fmt: skip
    assert _rows("SELECT test_set, model, roc_auc_mean FROM test_metrics", results) == [{"test_set": "other", "model": "good", "roc_auc_mean": 1.0}]


def test_predictions_view_names_the_model_from_the_path(results):
    rows = _rows("SELECT model, fold, count(*) AS n FROM predictions GROUP BY ALL ORDER BY ALL", results)
    assert rows == [{"model": m, "fold": k, "n": 2} for m in ("bad", "good") for k in (0, 1)]
    columns, _ = run_query("SELECT * FROM predictions", results)
    assert columns[0] == "model" and "filename" not in columns


def test_features_view_unions_clipsets_with_a_clipset_column(results):
    rows = _rows("SELECT clipset, count(*) AS n, count(extra) AS with_extra FROM features GROUP BY ALL ORDER BY ALL", results)
    assert rows == [{"clipset": "forensic", "n": 4, "with_extra": 0}, {"clipset": "small", "n": 2, "with_extra": 2}]


def test_readme_examples_run_and_give_the_expected_answers(results, capsys):
    queries = readme_queries()
    assert 4 <= len(queries) <= 6
    for argv in queries:
        assert main(["query", *argv, "--results", str(results)]) == 0, argv
        assert capsys.readouterr().out.strip(), f"no output for {argv[0]}"

    ranking, families, hardest, feature, rejected = (q[0] for q in queries)
    assert [(r["model"], r["auc"], r["folds"]) for r in _rows(ranking, results)] == [("good", 1.0, 2), ("bad", 0.5, 2)]
    detected = {(r["model"], r["family"]): r["detected"] for r in _rows(families, results)}
    assert detected == {("bad", "flicker"): 0.0, ("bad", "splice"): 1.0, ("good", "flicker"): 1.0, ("good", "splice"): 1.0}
    worst = _rows(hardest, results)
    assert [r["path"] for r in worst[:2]] == ["real/r2.mp4", "fake/f2.mp4"] and worst[0]["mean_error"] == pytest.approx(0.45)
    assert {(r["clipset"], r["label"]): r["noise_std"] for r in _rows(feature, results)} == {
        ("forensic", "fake"): 4.0, ("forensic", "real"): 1.5, ("small", "real"): 10.0}  # fmt: skip
    assert _rows(rejected, results) == [{"stage": "index", "reason": "empty file", "files": 2},
                                        {"stage": "index", "reason": "not a video", "files": 1}]  # fmt: skip


def test_formats(results, capsys):
    sql = "SELECT model, avg(roc_auc) AS auc FROM metrics WHERE level = 'video' GROUP BY model ORDER BY model"
    assert main(["query", sql, "--results", str(results), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "model,auc\nbad,0.5\ngood,1.0\n"
    assert main(["query", sql, "--results", str(results), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"model": "bad", "auc": 0.5}, {"model": "good", "auc": 1.0}]
    assert main(["query", sql, "--results", str(results)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["model", "auc"] and table[2].split() == ["bad", "0.5"] and table[-1] == "(2 rows)"


def test_json_and_table_render_missing_values():
    assert json.loads(format_rows(["x"], [(float("nan"),), (None,)], "json")) == [{"x": None}, {"x": None}]
    assert format_rows(["x"], [(None,)], "table").splitlines()[2].strip() == "NULL"


def test_missing_table_names_the_views_and_the_missing_files(results, capsys):
    (results / "registry.json").unlink()
    assert main(["query", "SELECT * FROM registry", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "registry" in err and "not found under" in err and "registry.json" in err and "videos" in err


def test_missing_results_folder_is_an_error(tmp_path):
    with pytest.raises(QueryError, match="does not exist"):
        run_query("SELECT 1", tmp_path / "nope")


# --- confinement: one read-only SELECT, files under the results folder only ---------------------------------


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("sql", "got"),
    [
        ("COPY metrics TO '{outside}/x.csv'", "got COPY"),
        ("COPY (SELECT 1 AS a) TO '{results}/compare/summary.csv'", "got COPY"),  # overwrote a result once
        ("COPY metrics TO '{results}/new.parquet' (FORMAT parquet)", "got COPY"),
        ("ATTACH '{outside}/x.duckdb' AS x", "got ATTACH"),
        ("EXPORT DATABASE '{outside}/export'", "got EXPORT"),
        ("INSTALL httpfs", "got INSTALL (a LOAD statement)"),
        ("LOAD httpfs", "got LOAD"),
        ("SET enable_external_access = true", "got SET"),
        ("CREATE TABLE t AS SELECT * FROM metrics", "got CREATE"),
        ("EXPLAIN ANALYZE COPY metrics TO '{outside}/x.csv'", "got EXPLAIN"),
        ("PRAGMA version", "got PRAGMA"),
        ("SELECT 1; SELECT 2", "got 2 statements"),
        ("SELECT * FROM metrics; COPY metrics TO '{outside}/x.csv'", "got 2 statements"),
        ("  ;  ", "got no statement"),
    ],
)
def test_only_one_select_statement_runs(results, tmp_path, capsys, sql, got):
    outside = tmp_path / "outside"
    outside.mkdir()
    before = _tree(tmp_path)
    summary = (results / "compare" / "summary.csv").read_bytes()
    sql = sql.format(outside=outside.as_posix(), results=results.as_posix())
    with pytest.raises(QueryError) as excinfo:
        run_query(sql, results)
    assert f"fvc query runs one read-only SELECT statement; {got}" in str(excinfo.value)
    assert main(["query", sql, "--results", str(results)]) == 2
    assert "read-only SELECT" in capsys.readouterr().err
    assert _tree(tmp_path) == before  # nothing written, anywhere
    assert (results / "compare" / "summary.csv").read_bytes() == summary


@pytest.mark.parametrize(
    "source",
    [
        "read_text('/etc/passwd')",
        "read_csv('/etc/passwd', sep = ':')",
        "glob('/root/*')",
        "glob('/*')",
        "read_text('{outside}/secret.txt')",
        "read_csv('{outside}/secret.txt')",
        "read_text('{results}/../outside/secret.txt')",  # '..' out of the results folder
        "read_text('{results}2/secret.txt')",  # a sibling whose name starts with the folder's
        "sniff_csv('{outside}/secret.txt')",
        "read_parquet('https://example.com/x.parquet')",
    ],
)
def test_files_outside_the_results_folder_cannot_be_read(results, tmp_path, source):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("a,b\n1,2\n")
    (tmp_path / "results2").mkdir()
    (tmp_path / "results2" / "secret.txt").write_text("a,b\n1,2\n")
    sql = "SELECT * FROM " + source.format(outside=outside.as_posix(), results=results.as_posix())
    with pytest.raises(QueryError, match="Permission Error") as excinfo:
        run_query(sql, results)
    assert f"reads only files under the results folder ({results.resolve()})" in str(excinfo.value)


def test_files_under_the_results_folder_can_be_read_directly(results):
    assert _rows(f"SELECT count(*) AS n FROM read_csv('{results.as_posix()}/rejected.csv')", results) == [{"n": 3}]
    names = [r["file"] for r in _rows(f"SELECT file FROM glob('{results.as_posix()}/compare/*.csv') ORDER BY file", results)]
    assert [Path(n).name for n in names] == ["paired.csv", "summary.csv", "test_summary.csv"]


def test_read_only_select_forms_still_run(results):
    assert _rows("FROM metrics SELECT count(*) AS n", results) == [{"n": 8}]
    assert _rows("WITH m AS (SELECT * FROM metrics WHERE level = 'video') SELECT count(*) AS n FROM m", results) == [{"n": 4}]
    assert {r["column_name"] for r in _rows("DESCRIBE summary", results)} >= {"model", "roc_auc_mean"}
    assert _rows("SELECT 1 AS one;", results) == [{"one": 1}]  # a trailing semicolon is still one statement


def test_the_connection_stays_locked(results):
    con, _ = connect(results)
    try:
        import duckdb

        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("RESET allowed_directories")
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
        for view in ("videos", "folds", "features", "metrics", "predictions", "rejected", "summary", "paired", "registry", "hpo_trials"):
            assert con.execute(f"SELECT count(*) FROM {view}").fetchone()[0] > 0, view
    finally:
        con.close()


def test_a_syntax_error_is_a_query_error(results):
    with pytest.raises(QueryError, match="Parser Error"):
        run_query("SELEC 1", results)
