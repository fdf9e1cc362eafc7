"""File names of the comparison plots, and the report labels derived from them.

Kept apart from ``fvc.evaluate.plots`` so that the Snakefile can label report entries without importing
matplotlib every time Snakemake parses the workflow. A plot is ``<kind>-<model>.png`` when it is drawn per
model and ``<kind>.png`` when it compares all models; model names are Python identifiers (the registry's
function names), so they never contain ``-`` and the name splits unambiguously.
"""

from __future__ import annotations

__all__ = ["PLOT_KINDS", "plot_labels", "plot_name", "plot_subcategory"]

# kind -> (report subcategory, whether the plot is drawn once per model)
PLOT_KINDS: dict[str, tuple[str, bool]] = {
    "roc": ("ROC curves", True),
    "pr": ("Precision-recall curves", True),
    "confusion": ("Confusion matrices", True),
    "learning_curves": ("Learning curves", True),
    "fold_metrics": ("Metrics over folds", False),
    "family_accuracy": ("Accuracy per manipulation family", False),
}


def plot_name(kind: str, model: str | None = None) -> str:
    """The stable file name (without folder) of one plot."""
    per_model = _per_model(kind)
    if per_model != (model is not None):
        raise ValueError(f"plot kind '{kind}' {'needs' if per_model else 'takes no'} model name")
    return f"{kind}-{model}.png" if per_model else f"{kind}.png"


def _split(name: str) -> tuple[str, str | None]:
    stem = name.removesuffix(".png")
    kind, _, model = stem.partition("-")
    _per_model(kind)
    return kind, (model or None)


def plot_subcategory(name: str) -> str:
    """Report subcategory of a plot file (``roc-svm`` or ``roc-svm.png`` -> ``ROC curves``)."""
    return PLOT_KINDS[_split(name)[0]][0]


def plot_labels(name: str) -> dict[str, str]:
    """Report labels of a plot file: the model it shows, or "all models" for a comparison."""
    return {"model": _split(name)[1] or "all models"}


def _per_model(kind: str) -> bool:
    if kind not in PLOT_KINDS:
        raise ValueError(f"unknown plot kind '{kind}' (known: {', '.join(PLOT_KINDS)})")
    return PLOT_KINDS[kind][1]
