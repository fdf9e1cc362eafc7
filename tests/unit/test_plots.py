"""Comparison plots: each figure from constructed tables, the files write_plots produces, their names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from fvc.evaluate.metrics import METRIC_NAMES
from fvc.evaluate.plot_names import plot_labels, plot_name, plot_subcategory
from fvc.evaluate.plots import (
    confusion_counts, confusion_figure, family_accuracy, family_accuracy_figure, fold_metrics_figure, has_families,
    learning_curves_figure, plot_results, pr_figure, roc_figure, write_plots,
)  # fmt: skip
from fvc.evaluate.predictions import collect_histories, collect_predictions, collect_video_scores
from fvc.io.atomic import write_parquet

FAMILIES = ("splice", "flicker")


def _videos(n: int = 8) -> pd.DataFrame:
    """n reals and n fakes, fakes alternating between two families."""
    rows = [{"video_id": f"r{i}", "label": "real", "family": "none", "group": f"g{i}"} for i in range(n)]
    rows += [{"video_id": f"f{i}", "label": "fake", "family": FAMILIES[i % 2], "group": f"g{i}"} for i in range(n)]
    return pd.DataFrame(rows)


def _scores(models: dict[str, float], n_folds: int = 2, seed: int = 0) -> pd.DataFrame:
    """Video-level scores; fold = index % n_folds; ``separation`` 1 gives a perfect model."""
    rng = np.random.default_rng(seed)
    videos = _videos()
    rows = []
    for model, separation in models.items():
        for i, video in enumerate(videos.itertuples()):
            label = int(video.label == "fake")
            score = float(np.clip(label * separation + rng.random() * (1 - separation), 0, 1))
            rows.append({"model": model, "fold": i % n_folds, "video_id": video.video_id, "label": label, "score": score})
    return pd.DataFrame(rows)


def _metrics(models: dict[str, float], n_folds: int = 2) -> pd.DataFrame:
    rows = []
    for model, auc in models.items():
        for fold in range(n_folds):
            for level in ("video", "clip"):
                rows.append({"model": model, "fold": fold, "level": level, "n_val_videos": 8,
                             **{m: min(1.0, auc + 0.02 * fold) for m in METRIC_NAMES}})  # fmt: skip
    return pd.DataFrame(rows)


def _history(model: str = "cnn", n_folds: int = 2, epochs: int = 4, with_f1: bool = True) -> pd.DataFrame:
    rows = []
    for fold in range(n_folds):
        for epoch in range(1, epochs + 1):
            row = {"model": model, "fold": fold, "epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.2 / epoch}
            if with_f1:
                row["val_f1"] = 1 - 0.5 / epoch
            rows.append(row)
    return pd.DataFrame(rows)


def _texts(fig: Figure) -> str:
    """Every piece of text in the figure: titles, labels, legend entries, annotations."""
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and callable(a.get_text)))


def _assert_readable(fig: Figure) -> None:
    """Every plot panel says what it shows and what its axes mean (a label, or named ticks)."""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes, "figure has no axes"
    for ax in axes:
        assert ax.get_title(), "panel without a title"
        assert ax.get_xlabel() or any(t.get_text().strip("0123456789.−-") for t in ax.get_xticklabels()), "x axis unexplained"
        assert ax.get_ylabel() or any(t.get_text().strip("0123456789.−-") for t in ax.get_yticklabels()), "y axis unexplained"


def test_roc_figure_overlays_folds_and_the_mean_with_auc_in_the_legend():
    scores = _scores({"perfect": 1.0})
    fig = roc_figure(scores)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["fold 0 (AUC 1.000)", "fold 1 (AUC 1.000)", "mean (AUC 1.000 ± 0.000)", "chance"]
    mean_line = ax.get_lines()[2]
    assert mean_line.get_linewidth() > 2 * ax.get_lines()[0].get_linewidth()  # the mean is drawn bold
    assert "perfect" in ax.get_title() and "false-positive rate" in ax.get_xlabel() and ax.get_ylabel()


def test_pr_figure_has_ap_per_fold_and_mean():
    fig = pr_figure(_scores({"m": 0.5}, n_folds=3))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [t.split(" (")[0] for t in legend] == ["fold 0", "fold 1", "fold 2", "mean", "chance"]
    assert all("AP" in t for t in legend[:4]) and "recall" in fig.axes[0].get_xlabel()


def test_per_model_figures_refuse_mixed_models():
    with pytest.raises(ValueError, match="one model"):
        roc_figure(_scores({"a": 0.5, "b": 0.5}))


def test_curves_skip_a_fold_with_one_class():
    scores = _scores({"m": 0.5})
    scores = scores[~((scores["fold"] == 1) & (scores["label"] == 0))]
    legend = [t.get_text() for t in roc_figure(scores).axes[0].get_legend().get_texts()]
    assert not any(t.startswith("fold 1") for t in legend) and any(t.startswith("mean") for t in legend)


def test_confusion_counts_and_figure():
    scores = pd.DataFrame({"model": "m", "fold": [0, 0, 1, 1, 1], "video_id": list("abcde"),
                           "label": [0, 0, 1, 1, 1], "score": [0.1, 0.7, 0.9, 0.5, 0.2]})  # fmt: skip
    counts = confusion_counts(scores)
    np.testing.assert_array_equal(counts, [[1, 1], [1, 2]])  # rows true real/fake, columns predicted
    fig = confusion_figure(scores)
    text = _texts(fig)
    assert "0.67\n(2/3)" in text and "0.50\n(1/2)" in text
    assert "2 folds summed" in text and "predicted fake" in text and "true real" in text


def test_fold_metrics_figure_orders_models_and_has_error_bars():
    metrics = _metrics({"weak": 0.55, "strong": 0.9, "mid": 0.7}, n_folds=3)
    fig = fold_metrics_figure(metrics)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["strong", "mid", "weak"]
    assert len(ax.patches) == 3 * 5  # one bar per model and main metric
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 5 and all(c.errorbar is not None for c in bars)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ROC-AUC" in legend and "3 folds" in ax.get_title()
    heights = {round(p.get_height(), 6) for p in ax.patches}
    assert 0.92 in heights  # strong: mean of 0.9, 0.92, 0.94


def test_learning_curves_show_losses_and_f1_per_fold():
    fig = learning_curves_figure(_history(n_folds=3))
    loss_ax, f1_ax = fig.axes
    assert len(loss_ax.get_lines()) == 6 and len(f1_ax.get_lines()) == 3  # train + val per fold; F1 per fold
    assert {t.get_text() for t in loss_ax.get_legend().get_texts()} >= {"fold 0", "fold 2", "train", "validation"}
    assert loss_ax.get_xlabel() == "epoch" and "F1" in f1_ax.get_ylabel()
    no_f1 = learning_curves_figure(_history(with_f1=False))
    assert "no val_f1 recorded" in _texts(no_f1)


def test_family_accuracy_recall_per_family_and_specificity_on_reals():
    scores = pd.DataFrame({"model": "m", "fold": 0, "video_id": ["r0", "r1", "f0", "f1", "f2", "f3"],
                           "label": [0, 0, 1, 1, 1, 1], "score": [0.2, 0.8, 0.9, 0.1, 0.6, 0.7]})  # fmt: skip
    videos = pd.DataFrame({"video_id": ["r0", "r1", "f0", "f1", "f2", "f3"], "label": ["real"] * 2 + ["fake"] * 4,
                           "family": ["none", "none", "splice", "splice", "flicker", "flicker"]})  # fmt: skip
    table = family_accuracy(scores, videos).set_index("family")
    assert table.loc["splice", "accuracy"] == 0.5 and table.loc["flicker", "accuracy"] == 1.0
    assert table.loc["real", "measure"] == "specificity" and table.loc["real", "accuracy"] == 0.5
    assert table.loc["splice", "n"] == 2
    ax = family_accuracy_figure(family_accuracy(scores, videos)).axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[-1].startswith("real videos") and ticks[0] == "flicker\n(n=2)"


def test_has_families_needs_a_named_family_on_some_fake():
    videos = _videos()
    assert has_families(videos)
    assert not has_families(videos.assign(family=np.where(videos["label"] == "fake", "unknown", "none")))
    assert not has_families(videos.drop(columns="family")) and not has_families(None)


def test_write_plots_names_files_stably_and_is_deterministic(tmp_path):
    models = {"logistic_regression": 0.6, "svm": 0.9}
    scores, metrics = _scores(models), _metrics(models)
    history = _history(model="svm")
    paths = write_plots(scores, metrics, tmp_path / "a", videos=_videos(), history=history)
    names = sorted(p.name for p in paths)
    assert names == sorted([
        *(plot_name(k, m) for k in ("roc", "pr", "confusion") for m in models),
        plot_name("learning_curves", "svm"), "fold_metrics.png", "family_accuracy.png",
    ])  # fmt: skip
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    again = write_plots(scores, metrics, tmp_path / "b", videos=_videos(), history=history)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")], "temp files left behind"
    # Without families or histories those plots are left out, not drawn empty.
    one = scores[scores["model"] == "svm"]
    plain = write_plots(one, metrics[metrics["model"] == "svm"], tmp_path / "c", videos=_videos().assign(family="unknown"))
    assert {p.name for p in plain} == {"roc-svm.png", "pr-svm.png", "confusion-svm.png", "fold_metrics.png"}


def test_plot_results_reads_fold_folders_and_their_histories(tmp_path):
    scores = _scores({"cnn": 0.8, "svm": 0.5})
    prediction_paths = []
    for (model, fold), group in scores.groupby(["model", "fold"]):
        fold_dir = tmp_path / "models" / model / f"fold_{fold}"
        write_parquet(fold_dir / "video_predictions.parquet", group.drop(columns="model"))
        prediction_paths.append(fold_dir / "video_predictions.parquet")
        if model == "cnn":
            _history(model="cnn", n_folds=1).drop(columns=["model", "fold"]).to_csv(fold_dir / "history.csv", index=False)
    write_parquet(tmp_path / "metrics.parquet", _metrics({"cnn": 0.8, "svm": 0.5}))
    write_parquet(tmp_path / "videos.parquet", _videos())
    collected = collect_predictions(prediction_paths)
    assert list(collected.columns[:2]) == ["model", "fold"] and set(collected["model"]) == {"cnn", "svm"}
    pd.testing.assert_frame_equal(
        collect_video_scores(prediction_paths).sort_values(["model", "video_id"]).reset_index(drop=True),
        scores.sort_values(["model", "video_id"]).reset_index(drop=True), check_dtype=False)  # fmt: skip
    assert collect_histories(p.parent for p in prediction_paths)["model"].unique().tolist() == ["cnn"]
    written = plot_results(
        prediction_paths, tmp_path / "metrics.parquet", tmp_path / "plots", videos_path=tmp_path / "videos.parquet"
    )
    assert "learning_curves-cnn.png" in {p.name for p in written} and len(written) == 3 * 2 + 3


def test_plot_names_and_report_labels():
    assert plot_name("roc", "svm") == "roc-svm.png" and plot_name("fold_metrics") == "fold_metrics.png"
    assert plot_subcategory("learning_curves-vit_gru") == "Learning curves"
    assert plot_labels("confusion-random_forest") == {"model": "random_forest"}
    assert plot_labels("family_accuracy") == {"model": "all models"}
    with pytest.raises(ValueError):
        plot_name("roc")
    with pytest.raises(ValueError):
        plot_subcategory("histogram-svm")


@pytest.mark.parametrize("figure", ["roc", "pr", "confusion", "learning", "folds", "family"])
def test_every_figure_has_titles_and_labels(figure):
    scores = _scores({"m": 0.7})
    fig = {
        "roc": lambda: roc_figure(scores), "pr": lambda: pr_figure(scores), "confusion": lambda: confusion_figure(scores),
        "learning": lambda: learning_curves_figure(_history()), "folds": lambda: fold_metrics_figure(_metrics({"m": 0.7})),
        "family": lambda: family_accuracy_figure(family_accuracy(scores, _videos())),
    }[figure]()  # fmt: skip
    _assert_readable(fig)
    assert fig.axes[0].get_legend() is not None or figure == "confusion"


MANY_MODELS = [f"model_{i:02d}" for i in range(13)]  # the registry's 13 models outnumber the 10-colour palette


def test_series_styles_give_every_series_its_own_look():
    from fvc.evaluate.plots import series_style, series_styles

    for n in (13, 40):
        styles = list(series_styles([f"s{i}" for i in range(n)]).values())
        for part in ("marker", "linestyle", "hatch"):
            assert len({(s.colour, getattr(s, part)) for s in styles}) == n, (n, part)
    styles = series_styles(MANY_MODELS)
    assert styles["model_00"] == series_style(0) and styles["model_10"].colour == styles["model_00"].colour
    assert styles["model_10"].marker != styles["model_00"].marker and styles["model_10"].hatch != styles["model_00"].hatch
    assert series_styles(["b", "a", "b"]) == {"b": series_style(0), "a": series_style(1)}  # order kept, duplicates once


def test_family_accuracy_figure_draws_13_models_in_13_looks():
    from fvc.evaluate.plots import series_styles

    scores = _scores({m: 0.3 + 0.05 * i for i, m in enumerate(MANY_MODELS)})
    ax = family_accuracy_figure(family_accuracy(scores, _videos())).axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [c.get_label() for c in bars] == MANY_MODELS
    looks = [(tuple(c.patches[0].get_facecolor()), c.patches[0].get_hatch() or "") for c in bars]
    assert len(set(looks)) == 13, looks  # no two models share colour and hatch
    expected = series_styles(MANY_MODELS)
    assert looks == [(expected[m].colour, expected[m].hatch) for m in MANY_MODELS]
    assert all(len({(tuple(p.get_facecolor()), p.get_hatch()) for p in c.patches}) == 1 for c in bars)  # one look per model
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == MANY_MODELS
    assert len({(tuple(h.get_facecolor()), h.get_hatch() or "") for h in legend.legend_handles}) == 13


def test_fold_curves_stay_distinct_beyond_ten_folds():
    rng = np.random.default_rng(0)
    scores = pd.DataFrame([{"model": "m", "fold": fold, "video_id": f"v{fold}_{i}", "label": i % 2, "score": float(rng.random())}
                           for fold in range(12) for i in range(4)])  # fmt: skip
    for figure in (roc_figure, pr_figure):
        lines = [line for line in figure(scores).axes[0].get_lines() if line.get_label().startswith("fold ")]
        assert len(lines) == 12 and len({(line.get_color(), line.get_linestyle()) for line in lines}) == 12, figure.__name__
    loss_ax, _ = learning_curves_figure(_history(n_folds=12)).axes
    train = [line for line in loss_ax.get_lines() if line.get_linestyle() == "-"]
    assert len(train) == 12 and len({(tuple(line.get_color()), line.get_marker()) for line in train}) == 12
