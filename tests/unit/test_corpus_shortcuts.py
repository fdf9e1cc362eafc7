"""The embedded corpus must be won by seeing the manipulation, not the encoder's bookkeeping.

A fake that is systematically smaller, shorter or of another size than its real would let a classifier on
container facts alone score well and teach nothing. Real and fake of a scene share size, length, frame rate
and crf; crf varies across scenes, so bitrate varies far more between scenes than a manipulation moves it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fvc.data.index import build_index
from fvc.data.sources import load_samples
from fvc.data.synth import SynthConfig, generate_corpus

REPO = Path(__file__).resolve().parents[2]
CONTAINER_FACTS = ["file_bytes", "bitrate", "duration", "width", "height", "frames"]
MAX_AUC = 0.65


@pytest.fixture(scope="module")
def default_index(tmp_path_factory: pytest.TempPathFactory):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    root = tmp_path_factory.mktemp("default-corpus")
    generate_corpus(root, SynthConfig(seed=config["seed"], **config["synth"]), progress=False, workers=2)
    return build_index(*load_samples("synth", root)).videos


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest"])
def test_container_facts_do_not_give_the_label_away(default_index, classifier: str) -> None:
    videos = default_index
    x = videos[CONTAINER_FACTS].astype(float).to_numpy()
    y = (videos["label"] == "fake").to_numpy(np.int64)
    model = (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)) if classifier == "logistic_regression"
             else RandomForestClassifier(n_estimators=300, min_samples_leaf=3, random_state=0))  # fmt: skip
    cv = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_predict(model, x, y, groups=videos["group"].to_numpy(), cv=cv, method="predict_proba")[:, 1]
    auc = roc_auc_score(y, scores)
    assert auc <= MAX_AUC, f"{classifier} on {CONTAINER_FACTS} reaches ROC-AUC {auc:.3f} on the default corpus"


def test_default_corpus_is_balanced_and_grouped(default_index) -> None:
    videos = default_index
    counts = videos["label"].value_counts()
    assert counts["real"] == counts["fake"]
    # Every family is present with the same number of fakes (families cycle over scenes).
    fakes = videos[videos["label"] == "fake"]
    per_family = fakes[~fakes["is_image"]]["family"].value_counts()
    assert per_family.nunique() == 1 and len(per_family) == 5
