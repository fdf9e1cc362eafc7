"""Plots of a hyper-parameter search: the metric against each parameter, the search history, importances.

- ``search.png`` (seed 001's "hyper-parameter search results"): one panel per parameter, every finished
  trial's value against the parameter's value (log axis for log ranges and wide positive grids), the best
  trial marked, pruned trials hollow at their last reported value.
- ``history.png``: each trial's value in order and the best so far.
- ``importance.png`` (Optuna searches with enough complete trials): fANOVA importance per parameter.

Same style and byte-stable PNGs as the comparison plots (``fvc.evaluate.plots``). Each figure shows one
model's search, so there is one data series: its colour (``PRIMARY``) and the best trial's (``HIGHLIGHT``) are
fixed roles, and trial states differ by marker (complete filled, pruned hollow or ``x``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from fvc.evaluate.plots import HIGHLIGHT, METRIC_LABELS, PRIMARY, _figure, _no_data, _styled, save_figure
from fvc.hpo.space import HpoConfig, ParamRange

__all__ = ["history_figure", "importance_figure", "search_figure", "write_search_plots"]

log = logging.getLogger(__name__)

MIN_TRIALS_FOR_IMPORTANCE = 4


def _param_columns(trials: pd.DataFrame) -> list[str]:
    return [c for c in trials.columns if c.startswith("param_")]


def _log_axis(values: pd.Series, spec: Any) -> bool:
    if isinstance(spec, ParamRange):
        return spec.log
    numeric = pd.to_numeric(values, errors="coerce").dropna()
    return len(numeric) == len(values.dropna()) and len(numeric) > 1 and (numeric > 0).all() and numeric.max() / numeric.min() >= 10


@_styled
def search_figure(trials: pd.DataFrame, cfg: HpoConfig, model: str) -> Figure:
    """One panel per searched parameter: the trial value against the parameter value.

    Two searched parameters with few values each (a typical grid) get a third panel: the value of every
    combination as a heat map, which shows what the one-parameter panels cannot, their interaction.
    """
    columns = _param_columns(trials)
    done = trials[trials["state"].isin(["COMPLETE", "PRUNED"]) & trials["value"].notna()]
    complete = done[done["state"] == "COMPLETE"]
    best = complete.loc[complete["value"].idxmax()] if not complete.empty else None
    heatmap = len(columns) == 2 and not complete.empty and all(complete[c].nunique() <= 12 for c in columns)
    panels = max(1, len(columns)) + int(heatmap)
    fig = _figure(max(5.0, 3.6 * panels), 3.4)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    label = METRIC_LABELS.get(cfg.metric, cfg.metric)
    if heatmap:
        _heatmap(axes[-1], complete, columns, label)
    for ax, column in zip(axes, columns or [None], strict=False):
        if column is None or done.empty:
            _no_data(ax, "no finished trials")
            continue
        name = column.removeprefix("param_")
        values = done[column]
        numeric = pd.to_numeric(values, errors="coerce")
        categorical = numeric.isna().any()
        if categorical:
            categories = sorted(values.astype(str).unique())
            x = values.astype(str).map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float)
            ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 3 else 0)
        else:
            x = numeric.to_numpy(dtype=float)
            if _log_axis(values, cfg.space.params.get(name)):
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short log range overlap
        pruned = (done["state"] == "PRUNED").to_numpy()
        y = done["value"].to_numpy(dtype=float)
        ax.scatter(x[~pruned], y[~pruned], s=28, color=PRIMARY, label="complete", zorder=3)
        if pruned.any():
            ax.scatter(x[pruned], y[pruned], s=28, facecolors="none", edgecolors=PRIMARY, label="pruned", zorder=3)
        if best is not None:
            bx = categories.index(str(best[column])) if categorical else float(best[column])
            ax.scatter([bx], [best["value"]], s=110, marker="*", color=HIGHLIGHT, label="best", zorder=4)
        ax.set_xlabel(name)
        ax.set_ylabel(f"validation {label}")
    axes[0].legend(loc="best")
    fig.suptitle(f"{model}: {cfg.method} search, {len(complete)} of {len(trials)} trials complete")
    return fig


def _heatmap(ax: Any, complete: pd.DataFrame, columns: list[str], label: str) -> None:
    """Mean value per combination of two parameters, annotated; empty cells for combinations never run."""
    rows_col, cols_col = columns
    table = complete.pivot_table(index=rows_col, columns=cols_col, values="value", aggfunc="mean")
    image = ax.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{v:g}" if isinstance(v, float) else str(v) for v in table.index])
    ax.set_xlabel(cols_col.removeprefix("param_"))
    ax.set_ylabel(rows_col.removeprefix("param_"))
    ax.grid(False)
    for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if value == value:
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value < np.nanmean(table.to_numpy()) else "black")
    ax.figure.colorbar(image, ax=ax, label=f"validation {label}")


@_styled
def history_figure(trials: pd.DataFrame, cfg: HpoConfig, model: str) -> Figure:
    """Each trial's value in trial order and the running best."""
    fig = _figure(6.0, 3.4)
    ax = fig.subplots()
    label = METRIC_LABELS.get(cfg.metric, cfg.metric)
    ordered = trials.sort_values("number")
    finished = ordered[ordered["value"].notna() & ordered["state"].isin(["COMPLETE", "PRUNED"])]
    if finished.empty:
        _no_data(ax, "no finished trials")
        return fig
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        part = finished[finished["state"] == state]
        if not part.empty:
            ax.scatter(part["number"], part["value"], marker=marker, color=PRIMARY, label=state.lower(), zorder=3)
    complete = ordered[ordered["state"] == "COMPLETE"]
    if not complete.empty:
        ax.step(complete["number"], complete["value"].cummax(), where="post", color=HIGHLIGHT, label="best so far")
    failed = ordered[ordered["state"] == "FAIL"]
    for number in failed["number"]:
        ax.axvline(number, color="0.8", lw=0.8, zorder=1)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {label}")
    ax.legend(loc="best")
    ax.set_title(f"{model}: search history" + (f" ({len(failed)} failed, grey)" if len(failed) else ""))
    return fig


@_styled
def importance_figure(importances: dict[str, float], model: str) -> Figure:
    """Horizontal bars of each parameter's share of the value's variance (fANOVA)."""
    fig = _figure(5.0, 0.5 + 0.45 * max(2, len(importances)))
    ax = fig.subplots()
    names = list(importances)[::-1]
    ax.barh(names, [importances[n] for n in names], color=PRIMARY)
    ax.set_xlim(0, 1)
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title(f"{model}: hyper-parameter importance")
    return fig


def write_search_plots(trials: pd.DataFrame, cfg: HpoConfig, model: str, folder: str | Path) -> list[Path]:
    """Write the search's PNGs into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [save_figure(search_figure(trials, cfg, model), folder / "search.png"),
               save_figure(history_figure(trials, cfg, model), folder / "history.png")]  # fmt: skip
    importances = _importances(trials, cfg)
    if importances:
        written.append(save_figure(importance_figure(importances, model), folder / "importance.png"))
    return written


def _importances(trials: pd.DataFrame, cfg: HpoConfig) -> dict[str, float] | None:
    """fANOVA importances from the complete trials, or None when there are too few or nothing varies."""
    complete = trials[trials["state"] == "COMPLETE"]
    varying = [c for c in _param_columns(complete) if complete[c].nunique() > 1]
    if cfg.method != "optuna" or len(complete) < MIN_TRIALS_FOR_IMPORTANCE or not varying:
        return None
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    try:
        study = optuna.create_study(direction="maximize")  # in memory: the table's complete trials, re-added
        for _, row in complete.iterrows():
            params = {c.removeprefix("param_"): _plain(row[c]) for c in _param_columns(complete)}
            distributions = {name: _distribution(cfg.space.params[name]) for name in params}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=float(row["value"])))
        importances = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except (RuntimeError, ValueError) as exc:
        log.warning("no importance plot: %s", exc)
        return None
    return {name: float(value) for name, value in importances.items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _distribution(spec: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(spec, ParamRange):
        if spec.type == "int":
            return IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=int(spec.step or 1))
        return FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)
    return CategoricalDistribution([_plain(v) for v in spec])
