"""Comparison plots: ROC and PR curves, confusion matrices, metrics over folds, learning curves, families.

Every figure function takes DataFrames and returns a matplotlib ``Figure`` (no pyplot, so no global figure
state and nothing to close), which keeps them unit-testable; ``write_plots`` saves them as PNGs with the
stable names of ``fvc.evaluate.plot_names``. Figures are drawn on the Agg canvas with a fixed style and
saved without the "Software" metadata, so the same results give the same bytes.

Every figure that tells several series apart (models, folds, metrics) takes their looks from
:func:`series_styles`: each series gets its own (colour, marker, line style, hatch) combination, so 13 models
in a 10-colour palette never share a look (the 11th repeats the 1st colour with another marker, line style
and hatch).

Inputs: ``scores`` is the video-level table of ``fvc.evaluate.predictions.collect_video_scores`` (model, fold,
video_id, label 1 = fake, score = P(fake)); ``metrics`` is ``compare/metrics.parquet``; ``history`` is
``collect_histories``' per-epoch table; ``videos`` is the index (its ``family`` column).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from fvc.evaluate.plot_names import plot_name  # noqa: E402
from fvc.evaluate.predictions import collect_histories, collect_video_scores  # noqa: E402
from fvc.io.atomic import atomic_path  # noqa: E402

__all__ = [
    "HIGHLIGHT", "MAIN_METRICS", "PRIMARY", "SeriesStyle", "series_style", "series_styles", "confusion_counts", "confusion_figure", "family_accuracy", "family_accuracy_figure",
    "fold_metrics_figure", "has_families", "learning_curves_figure", "plot_results", "pr_figure", "roc_figure",
    "save_figure", "test_auc_heatmap", "test_roc_figure", "write_plots", "write_test_plots",
]  # fmt: skip

log = logging.getLogger(__name__)

# The metrics compared across models in the fold bars; all "higher is better" and on [0, 1].
MAIN_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "average_precision")
METRIC_LABELS = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "precision": "precision", "recall": "recall",
    "f1": "F1", "roc_auc": "ROC-AUC", "average_precision": "average precision", "eer": "EER",
}  # fmt: skip
CLASS_NAMES = ("real", "fake")
# Families the index uses for "not a manipulation" and "not recorded".
NO_FAMILY = frozenset({"none", "unknown", ""})

DPI = 110
STYLE = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyphs on every machine
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
_GRID = np.linspace(0.0, 1.0, 201)

F = TypeVar("F", bound=Callable[..., Figure])


def _styled(func: F) -> F:
    """Draw under the fixed style, whatever the caller's rcParams are (fonts are read at draw time)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# Series looks: the 10 colours of tab10, then the same colours again with the next marker, line style and
# hatch. (colour, marker) pairs are distinct for 100 series, (colour, hatch) for 80, (colour, line style) for 40.
PALETTE = tuple(tuple(float(c) for c in matplotlib.colormaps["tab10"](i)) for i in range(10))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINESTYLES = ("-", "--", ":", "-.")
HATCHES = ("", "//", "\\\\", "xx", "..", "oo", "++", "||")
# Fixed roles in single-series figures (the search plots): the data, and what stands out from it.
PRIMARY, HIGHLIGHT = PALETTE[0], PALETTE[3]


@dataclass(frozen=True)
class SeriesStyle:
    """How one series (a model, a fold, a metric) is drawn: lines use colour + linestyle (+ marker where points
    are marked), bars colour + hatch."""

    colour: tuple[float, float, float, float]
    marker: str
    linestyle: str
    hatch: str

    def line(self) -> dict[str, Any]:
        return {"color": self.colour, "ls": self.linestyle}

    def bar(self) -> dict[str, Any]:
        # White hatching and no outline: the bar's colour stays what the legend shows.
        return {"color": self.colour, "hatch": self.hatch or None, "edgecolor": "white", "linewidth": 0}


def series_style(index: int) -> SeriesStyle:
    """The look of the ``index``-th series (0-based)."""
    variant = index // len(PALETTE)
    return SeriesStyle(PALETTE[index % len(PALETTE)], MARKERS[variant % len(MARKERS)], LINESTYLES[variant % len(LINESTYLES)],
                       HATCHES[variant % len(HATCHES)])  # fmt: skip


def series_styles(names: Iterable[Any]) -> dict[Any, SeriesStyle]:
    """One distinct look per name, in the order given (duplicates ignored): the only source of series looks."""
    unique = list(dict.fromkeys(names))
    return {name: series_style(i) for i, name in enumerate(unique)}


def _one_model(scores: pd.DataFrame, model: str | None) -> str:
    models = sorted(scores["model"].unique()) if "model" in scores.columns else []
    if model is None:
        if len(models) != 1:
            raise ValueError(f"expected the scores of one model, got {models}")
        return str(models[0])
    if models and models != [model]:
        raise ValueError(f"scores hold {models}, not only '{model}'")
    return model


def _folds_with_both_classes(scores: pd.DataFrame) -> Iterable[tuple[int, pd.DataFrame]]:
    for fold, group in scores.groupby("fold", sort=True):
        if group["label"].nunique() == 2:
            yield int(fold), group
        else:
            log.warning("fold %s has one class only; no curve drawn for it", fold)


def _mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` over folds, with the sample std (ddof=1) that summary.csv reports."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {std:.3f}"


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


@_styled
def roc_figure(scores: pd.DataFrame, model: str | None = None) -> Figure:
    """ROC of each fold (thin) and their vertical mean (bold), with per-fold and mean ± std AUC."""
    model = _one_model(scores, model)
    fig = _figure(6.0, 5.2)
    ax = fig.add_subplot()
    tprs, aucs = [], []
    styles = series_styles(sorted(int(f) for f in scores["fold"].unique()))
    for fold, group in _folds_with_both_classes(scores):
        fpr, tpr, _ = skm.roc_curve(group["label"], group["score"])
        auc = skm.roc_auc_score(group["label"], group["score"])
        ax.plot(fpr, tpr, lw=1.0, alpha=0.7, **styles[fold].line(), label=f"fold {fold} (AUC {auc:.3f})")
        interp = np.interp(_GRID, fpr, tpr)
        interp[0] = 0.0
        tprs.append(interp)
        aucs.append(auc)
    if tprs:
        mean = np.mean(tprs, axis=0)
        mean[-1] = 1.0
        ax.plot(_GRID, mean, lw=2.6, color="black", label=f"mean (AUC {_mean_std(aucs)})")
    else:
        _no_data(ax, "no fold has both classes")
    ax.plot([0, 1], [0, 1], ls="--", lw=1.0, color="0.55", label="chance")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_xlabel("false-positive rate (real videos called fake)")
    ax.set_ylabel("true-positive rate (fake videos detected)")
    ax.set_title(f"{model}: video-level ROC over {scores['fold'].nunique()} folds")
    ax.legend(loc="lower right")
    return fig


@_styled
def pr_figure(scores: pd.DataFrame, model: str | None = None) -> Figure:
    """Precision-recall of each fold (thin) and their mean over recall (bold), with AP in the legend."""
    model = _one_model(scores, model)
    fig = _figure(6.0, 5.2)
    ax = fig.add_subplot()
    precisions, aps = [], []
    styles = series_styles(sorted(int(f) for f in scores["fold"].unique()))
    for fold, group in _folds_with_both_classes(scores):
        precision, recall, _ = skm.precision_recall_curve(group["label"], group["score"])
        ap = skm.average_precision_score(group["label"], group["score"])
        ax.step(recall, precision, where="post", lw=1.0, alpha=0.7, **styles[fold].line(), label=f"fold {fold} (AP {ap:.3f})")
        precisions.append(_step_precision(recall, precision))
        aps.append(ap)
    if precisions:
        ax.plot(_GRID, np.mean(precisions, axis=0), lw=2.6, color="black", drawstyle="steps-pre",
                label=f"mean (AP {_mean_std(aps)})")  # fmt: skip
    else:
        _no_data(ax, "no fold has both classes")
    prevalence = float(scores["label"].mean()) if len(scores) else 0.0
    ax.axhline(prevalence, ls="--", lw=1.0, color="0.55", label=f"chance (fake share {prevalence:.2f})")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.03))
    ax.set_xlabel("recall (fake videos detected)")
    ax.set_ylabel("precision (flagged videos that are fake)")
    ax.set_title(f"{model}: video-level precision-recall over {scores['fold'].nunique()} folds")
    ax.legend(loc="lower left")
    return fig


def _step_precision(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """The fold's step curve read off at ``_GRID``: precision of the operating point with the least recall >= r.

    This is the curve average precision integrates, so the mean of these curves has the mean AP as its area
    (linear interpolation between PR points would overstate it and draws saw teeth).
    """
    recall_up, precision_up = recall[::-1], precision[::-1]  # sklearn lists recall decreasing
    index = np.searchsorted(recall_up, _GRID, side="left")
    return precision_up[np.minimum(index, len(recall_up) - 1)]


def confusion_counts(scores: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
    """2x2 counts summed over folds: rows are the true class (real, fake), columns the predicted class."""
    truth = scores["label"].to_numpy(dtype=np.int64)
    predicted = (scores["score"].to_numpy(dtype=np.float64) >= threshold).astype(np.int64)
    return skm.confusion_matrix(truth, predicted, labels=[0, 1])


@_styled
def confusion_figure(scores: pd.DataFrame, model: str | None = None, threshold: float = 0.5) -> Figure:
    """Video-level confusion matrix summed over folds: counts (left) and normalised per true class (right)."""
    model = _one_model(scores, model)
    counts = confusion_counts(scores, threshold)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)
    count_labels = [[f"{counts[r, c]:d}" for c in range(2)] for r in range(2)]
    rate_labels = [[f"{rates[r, c]:.2f}\n({counts[r, c]:d}/{totals[r, 0]:d})" for c in range(2)] for r in range(2)]
    fig = _figure(9.0, 4.2)
    count_ax, rate_ax = fig.subplots(1, 2)
    # Counts are shaded relative to the largest cell, shares on their absolute 0-1 scale.
    for ax, shade, labels, title in (
        (count_ax, counts / max(int(counts.max()), 1), count_labels, "counts"),
        (rate_ax, rates, rate_labels, "share of each true class"),
    ):
        image = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0)
        for (row, col), level in np.ndenumerate(shade):
            ax.text(col, row, labels[row][col], ha="center", va="center", fontsize=11,
                    color="white" if level > 0.6 else "black")  # fmt: skip
        ax.set_xticks([0, 1], [f"predicted {c}" for c in CLASS_NAMES])
        ax.set_yticks([0, 1], [f"true {c}" for c in CLASS_NAMES])
        ax.grid(False)
        ax.set_title(title)
    fig.colorbar(image, ax=rate_ax, fraction=0.046, pad=0.04, label="share of row")
    fig.suptitle(f"{model}: video-level confusion matrix, {scores['fold'].nunique()} folds summed "
                 f"(fake if P(fake) ≥ {threshold:g})")  # fmt: skip
    return fig


def _model_order(metrics: pd.DataFrame) -> list[str]:
    """Best mean ROC-AUC first, as in summary.csv."""
    means = metrics.groupby("model", sort=True)["roc_auc"].mean()
    return list(means.sort_values(ascending=False, kind="stable").index)


@_styled
def fold_metrics_figure(metrics: pd.DataFrame, level: str = "video", metric_names: Sequence[str] = MAIN_METRICS) -> Figure:
    """Grouped bars per model: mean of each main metric over folds, ± std as error bars, folds as dots."""
    table = metrics[metrics["level"] == level]
    models = _model_order(table)
    n_metrics = len(metric_names)
    width = 0.8 / n_metrics
    fig = _figure(max(6.5, 1.4 * len(models) + 3.0), 4.8)
    ax = fig.add_subplot()
    styles = series_styles(metric_names)
    for m, metric in enumerate(metric_names):
        grouped = table.groupby("model")[metric]
        means = grouped.mean().reindex(models)
        stds = grouped.std(ddof=1).reindex(models).fillna(0.0).to_numpy()
        x = np.arange(len(models)) + (m - (n_metrics - 1) / 2) * width
        # ± std, cut at the metric's range [0, 1] (a bar reaching below 0 would mislead).
        yerr = np.vstack([np.minimum(stds, means.to_numpy()), np.minimum(stds, 1.0 - means.to_numpy())])
        ax.bar(x, means.to_numpy(), width=width * 0.92, yerr=np.nan_to_num(yerr), capsize=3, **styles[metric].bar(),
               label=METRIC_LABELS.get(metric, metric), error_kw={"lw": 1.0, "ecolor": "0.2"})  # fmt: skip
        for i, model in enumerate(models):
            values = table.loc[table["model"] == model, metric].dropna().to_numpy()
            ax.scatter(np.full(len(values), x[i]), values, s=9, color="black", zorder=3, lw=0)
    ax.axhline(0.5, ls=":", lw=1.0, color="0.4")
    flagged = set(table.loc[table["warnings"].fillna("") != "", "model"]) if "warnings" in table else set()
    ax.set_xticks(np.arange(len(models)), [f"{m} (!)" if m in flagged else m for m in models], rotation=15 if len(models) > 3 else 0)
    for tick, model in zip(ax.get_xticklabels(), models, strict=True):
        if model in flagged:
            tick.set_color("#b2182b")
    if flagged:
        fig.text(0.01, 0.005, "(!) degenerate on some fold (one predicted class, a training loss that never fell or AUC below 0.5):"
                 " see the warnings column of summary.csv", fontsize=7.5, color="#b2182b")  # fmt: skip
    ax.set(ylim=(0.0, 1.08))
    ax.set_ylabel(f"{level}-level metric (mean ± std over folds)")
    ax.set_xlabel("model (best mean ROC-AUC first)")
    folds = table["fold"].nunique()
    ax.set_title(f"{level.capitalize()}-level metrics over {folds} folds; dots: single folds, dotted: 0.5")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="metric")
    ax.grid(axis="x", visible=False)
    return fig


@_styled
def learning_curves_figure(history: pd.DataFrame, model: str | None = None) -> Figure:
    """Train and validation loss (left) and validation F1 (right) per epoch, one colour and marker per fold
    (the line style tells train from validation)."""
    model = _one_model(history, model)
    fig = _figure(11.0, 4.4)
    loss_ax, f1_ax = fig.subplots(1, 2)
    folds = sorted(int(f) for f in history["fold"].unique())
    styles = series_styles(folds)
    for fold in folds:
        rows = history[history["fold"] == fold].sort_values("epoch")
        look = {"color": styles[fold].colour, "marker": styles[fold].marker, "ms": 4, "lw": 1.4}
        if "train_loss" in rows:
            loss_ax.plot(rows["epoch"], rows["train_loss"], **look)
        if "val_loss" in rows:
            loss_ax.plot(rows["epoch"], rows["val_loss"], ls="--", **look)
        if "val_f1" in rows:
            f1_ax.plot(rows["epoch"], rows["val_f1"], **look)
    fold_handles = [Line2D([], [], color=styles[f].colour, marker=styles[f].marker, lw=2, label=f"fold {f}") for f in folds]
    style_handles = [Line2D([], [], color="0.3", lw=1.4, label="train"),
                     Line2D([], [], color="0.3", lw=1.4, ls="--", label="validation")]  # fmt: skip
    loss_ax.legend(handles=fold_handles + style_handles, loc="upper right", ncols=2)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss (solid: train, dashed: validation)")
    if "val_f1" in history.columns:
        f1_ax.legend(handles=fold_handles, loc="lower right")
        f1_ax.set_ylim(-0.02, 1.02)
    else:
        _no_data(f1_ax, "no val_f1 recorded")
    f1_ax.set(xlabel="epoch", ylabel="validation F1", title="validation F1")
    for ax in (loss_ax, f1_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"{model}: learning curves over {len(folds)} folds")
    return fig


def has_families(videos: pd.DataFrame | None) -> bool:
    """True when the index names a manipulation family for at least one fake video."""
    if videos is None or "family" not in videos.columns or "label" not in videos.columns:
        return False
    fakes = videos.loc[videos["label"].astype(str) == "fake", "family"]
    return bool(fakes.dropna().astype(str).str.lower().map(lambda f: f not in NO_FAMILY).any())


def family_accuracy(scores: pd.DataFrame, videos: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per model: recall on the fakes of each family and specificity on the reals, pooled over folds.

    Each video is validated in exactly one fold, so pooling counts every video once per model. Rows:
    model, family (``real`` for the specificity row), measure, n, correct, accuracy.
    """
    family = videos[["video_id", "family"]].drop_duplicates("video_id")
    table = scores.merge(family, on="video_id", how="left")
    table["family"] = table["family"].fillna("unknown").astype(str)
    table.loc[table["label"] == 0, "family"] = "real"
    table["correct"] = (table["score"] >= threshold).astype(np.int64) == table["label"]
    grouped = table.groupby(["model", "family"], sort=True)["correct"]
    result = pd.concat([grouped.size().rename("n"), grouped.sum().rename("correct")], axis=1).reset_index()
    result["correct"] = result["correct"].astype(np.int64)
    result["accuracy"] = result["correct"] / result["n"]
    result.insert(2, "measure", np.where(result["family"] == "real", "specificity", "recall"))
    return result


@_styled
def family_accuracy_figure(accuracy: pd.DataFrame, threshold: float = 0.5) -> Figure:
    """Grouped bars: one group per family (reals last, as specificity), one bar per model, each model in its
    own colour and hatch (:func:`series_styles`)."""
    models = sorted(accuracy["model"].unique())
    styles = series_styles(models)
    families = sorted(f for f in accuracy["family"].unique() if f != "real")
    if (accuracy["family"] == "real").any():
        families.append("real")
    counts = accuracy.groupby("family")["n"].max()
    width = 0.8 / max(len(models), 1)
    fig = _figure(max(7.0, 0.9 * len(families) * max(1, len(models) / 3) + 3.0), 4.8)
    ax = fig.add_subplot()
    for m, model in enumerate(models):
        values = accuracy[accuracy["model"] == model].set_index("family")["accuracy"].reindex(families)
        x = np.arange(len(families)) + (m - (len(models) - 1) / 2) * width
        ax.bar(x, values.fillna(0.0).to_numpy(), width=width * 0.92, **styles[model].bar(), label=model)
    ticks = [f"{f}\n(n={counts[f]})" if f != "real" else f"real videos\n(specificity, n={counts[f]})" for f in families]
    ax.set_xticks(np.arange(len(families)), ticks)
    if "real" in families:
        ax.axvline(len(families) - 1.5, color="0.6", lw=1.0)
    ax.set(ylim=(0.0, 1.08))
    ax.set_ylabel("share of videos classified correctly")
    ax.set_xlabel("manipulation family (recall on its fakes)")
    ax.set_title(f"Video-level accuracy per manipulation family, all folds pooled (fake if P(fake) ≥ {threshold:g})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="model")
    ax.grid(axis="x", visible=False)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG atomically, without the (version-dependent) "Software" metadata."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return path


def write_plots(
    scores: pd.DataFrame,
    metrics: pd.DataFrame,
    out_dir: str | Path,
    *,
    videos: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    threshold: float = 0.5,
) -> list[Path]:
    """Every plot the data supports, under ``out_dir`` with stable names; returns the paths written.

    Learning curves appear only for models with a history; the family plot only when the index records
    families. Everything else is drawn for every model in ``scores``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def emit(fig: Figure, kind: str, model: str | None = None) -> None:
        written.append(save_figure(fig, out_dir / plot_name(kind, model)))

    for model, model_scores in scores.groupby("model", sort=True):
        emit(roc_figure(model_scores, model), "roc", model)
        emit(pr_figure(model_scores, model), "pr", model)
        emit(confusion_figure(model_scores, model, threshold), "confusion", model)
    if history is not None and not history.empty:
        for model, model_history in history.groupby("model", sort=True):
            emit(learning_curves_figure(model_history, model), "learning_curves", model)
    if not metrics.empty:
        emit(fold_metrics_figure(metrics), "fold_metrics")
    if has_families(videos):
        emit(family_accuracy_figure(family_accuracy(scores, videos, threshold), threshold), "family_accuracy")
    log.info("wrote %d plots to %s", len(written), out_dir)
    return sorted(written)


def plot_results(
    prediction_paths: Iterable[str | Path],
    metrics_path: str | Path,
    out_dir: str | Path,
    videos_path: str | Path | None = None,
) -> list[Path]:
    """The workflow's entry point: read the folds' video predictions (and histories beside them), then plot."""
    prediction_paths = [Path(p) for p in prediction_paths]
    scores = collect_video_scores(prediction_paths)
    history = collect_histories(p.parent for p in prediction_paths)
    videos = pd.read_parquet(videos_path) if videos_path is not None else None
    return write_plots(scores, pd.read_parquet(metrics_path), out_dir, videos=videos, history=history)


@_styled
def test_auc_heatmap(summary: pd.DataFrame) -> Figure:
    """Models x (in-domain cross-validation, then each test set): video-level ROC-AUC, the fold models' mean with
    the ensemble's value beneath; a diverging map centred on chance, so generalisation gaps read at a glance."""
    video = summary[summary["level"] == "video"]
    test_sets = sorted(video["test_set"].unique())
    mean = video.pivot(index="model", columns="test_set", values="roc_auc_mean").reindex(columns=test_sets)
    ensemble = video.pivot(index="model", columns="test_set", values="roc_auc_ensemble").reindex(columns=test_sets) \
        if "roc_auc_ensemble" in video.columns else None  # fmt: skip
    columns = test_sets
    if "cv_roc_auc_mean" in video.columns:
        mean.insert(0, "cross-validation", video.groupby("model")["cv_roc_auc_mean"].first())
        columns = ["cross-validation", *test_sets]
    mean = mean.sort_values(columns[-1], ascending=False, kind="stable")
    fig = _figure(max(6.5, 2.6 + 1.6 * len(columns)), max(3.0, 1.4 + 0.42 * len(mean)))
    ax = fig.add_subplot()
    image = ax.imshow(mean.to_numpy(dtype=float), cmap="RdBu", vmin=0.0, vmax=1.0, aspect="auto")
    for i, model in enumerate(mean.index):
        for j, column in enumerate(columns):
            value = mean.loc[model, column]
            text = "n/a" if value != value else f"{value:.3f}"
            if ensemble is not None and column in ensemble.columns and ensemble.loc[model, column] == ensemble.loc[model, column]:
                text += f"\nens. {ensemble.loc[model, column]:.3f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if value == value and abs(value - 0.5) > 0.3 else "black")
    ax.set_xticks(np.arange(len(columns)), columns, rotation=20, ha="right")
    ax.set_yticks(np.arange(len(mean)), mean.index)
    ax.grid(False)
    ax.set_title("Video ROC-AUC: cross-validation vs test sets\n(mean of the fold models; ens. = their ensemble)")
    fig.colorbar(image, ax=ax, label="ROC-AUC (0.5 = chance)")
    return fig


@_styled
def test_roc_figure(scores: pd.DataFrame, test_set: str) -> Figure:
    """One test set: each model's ensemble ROC (mean P(fake) over its fold models), AUC in the legend."""
    fig = _figure(6.4, 5.4)
    ax = fig.add_subplot()
    models = sorted(scores["model"].unique())
    styles = series_styles(models)
    for model in models:
        group = scores[scores["model"] == model]
        if group["label"].nunique() < 2:
            continue
        fpr, tpr, _ = skm.roc_curve(group["label"], group["score"])
        ax.plot(fpr, tpr, lw=1.6, **styles[model].line(), label=f"{model} (AUC {skm.roc_auc_score(group['label'], group['score']):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", lw=1.0, color="0.55", label="chance")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_xlabel("false-positive rate (real videos called fake)")
    ax.set_ylabel("true-positive rate (fake videos detected)")
    ax.set_title(f"Test set {test_set}: ROC of each model's fold ensemble")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def write_test_plots(summary: pd.DataFrame, prediction_paths: Iterable[str | Path], out_dir: str | Path) -> list[Path]:
    """The AUC heatmap and one ROC figure per test set (ensemble predictions, training duplicates left out)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if not summary.empty:
        written.append(save_figure(test_auc_heatmap(summary), out_dir / "test_auc_heatmap.png"))
    frames = []
    for path in map(Path, prediction_paths):
        if path.parent.name != "ensemble":
            continue
        frame = pd.read_parquet(path)
        frames.append(frame[~frame["in_training"]].assign(model=path.parent.parent.name, test_set=path.parent.parent.parent.name))
    if frames:
        scores = pd.concat(frames, ignore_index=True)
        for test_set, group in scores.groupby("test_set", sort=True):
            written.append(save_figure(test_roc_figure(group, str(test_set)), out_dir / f"test_roc-{test_set}.png"))
    return written
