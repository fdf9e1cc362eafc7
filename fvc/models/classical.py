"""Classical classifiers on handcrafted feature vectors, each a scikit-learn Pipeline.

Imputation and scaling sit inside the pipeline, so they are fitted on the training fold only; every model is
class-balanced, and every model exposes ``predict_proba`` (the SVM through Platt calibration), so evaluation
never branches on the model type. Builders take ``seed`` (all randomness) and ``n_jobs`` (the job's
threads) besides their hyper-parameters. scikit-learn is imported by the builders, not here: reading the
registry (every Snakemake DAG build) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fvc.models.registry import Resources, register_model

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = ["hist_gradient_boosting", "logistic_regression", "random_forest", "svm"]

_FEATURES = {"clipset": "forensic"}


@register_model(
    kind="sklearn",
    input="features",
    default_params={**_FEATURES, "C": 1.0, "max_iter": 5000},
    resources=Resources(mem_mb=2000, runtime=15),
)
def logistic_regression(*, C: float = 1.0, max_iter: int = 5000, seed: int = 0, n_jobs: int = 1) -> Pipeline:
    """L2-regularised logistic regression on standardised features."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced", random_state=seed)),
        ]
    )


@register_model(
    kind="sklearn",
    input="features",
    default_params={**_FEATURES, "C": 1.0, "gamma": "scale", "calibration_folds": 3},
    resources=Resources(mem_mb=2000, runtime=30),
)
def svm(*, C: float = 1.0, gamma: str | float = "scale", calibration_folds: int = 3, seed: int = 0, n_jobs: int = 1) -> Pipeline:
    """RBF support vector machine with Platt-calibrated probabilities (cross-validated sigmoid)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    base = SVC(kernel="rbf", C=C, gamma=gamma, class_weight="balanced", random_state=seed)
    folds = StratifiedKFold(n_splits=calibration_folds, shuffle=True, random_state=seed)
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("clf", CalibratedClassifierCV(base, method="sigmoid", cv=folds, n_jobs=n_jobs)),
        ]
    )


@register_model(
    kind="sklearn",
    input="features",
    default_params={**_FEATURES, "n_estimators": 500, "max_features": "sqrt", "min_samples_leaf": 1},
    resources=Resources(mem_mb=4000, runtime=30, threads=2),
)
def random_forest(
    *, n_estimators: int = 500, max_features: str | float = "sqrt", min_samples_leaf: int = 1, seed: int = 0, n_jobs: int = 1
) -> Pipeline:
    """Random forest; trees need no scaling, only imputation."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    forest = RandomForestClassifier(
        n_estimators=n_estimators,
        max_features=max_features,
        min_samples_leaf=min_samples_leaf,
        class_weight="balanced_subsample",
        random_state=seed,
        n_jobs=n_jobs,
    )
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("clf", forest)])


@register_model(
    kind="sklearn",
    input="features",
    default_params={
        **_FEATURES, "learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15, "min_samples_leaf": 5, "l2_regularization": 1.0,
    },  # fmt: skip
    resources=Resources(mem_mb=4000, runtime=30, threads=2),
)
def hist_gradient_boosting(
    *,
    learning_rate: float = 0.05,
    max_iter: int = 300,
    max_leaf_nodes: int = 15,
    min_samples_leaf: int = 5,
    l2_regularization: float = 1.0,
    seed: int = 0,
    n_jobs: int = 1,
) -> Pipeline:
    """Histogram gradient boosting; handles missing values itself, so no imputer."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    booster = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=max_leaf_nodes,
        # scikit-learn's default (20) cannot split the training fold of a small corpus at all.
        min_samples_leaf=min_samples_leaf,
        l2_regularization=l2_regularization,
        class_weight="balanced",
        early_stopping=False,  # a held-out slice of an already small fold costs more than it saves
        random_state=seed,
    )
    return Pipeline([("clf", booster)])
