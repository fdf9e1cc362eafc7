"""Classical classifiers on handcrafted feature vectors, each a scikit-learn Pipeline.

Imputation and scaling sit inside the pipeline so they are fitted on the training fold only.
"""

from __future__ import annotations

from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fvc.models.registry import Resources, register_model

__all__ = ["logistic_regression"]


@register_model(
    kind="sklearn",
    input="features",
    default_params={"clipset": "forensic", "C": 1.0, "max_iter": 2000},
    resources=Resources(mem_mb=2000, runtime=15),
)
def logistic_regression(*, C: float = 1.0, max_iter: int = 2000, seed: int = 0) -> Pipeline:
    """L2-regularised logistic regression, class-balanced, on standardised features."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced", random_state=seed)),
        ]
    )
