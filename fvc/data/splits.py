"""Cross-validation folds: stratified by label, grouped so relatives never straddle folds.

Splits are made on source videos only. Anything derived from a video later (augmented copies, clips)
inherits its fold through ``video_id``, so nothing derived from a validation video can reach training.

Two strategies (config ``split.strategy``):

- ``group_kfold``: stratified group k-fold; a video trains in every fold but its own.
- ``leave_one_family_out``: one fold per manipulation family, the question "does it catch a manipulation it
  never saw?". Fold ``k`` holds out family ``k``: its validation part is that family's fakes and the real
  videos of the held-out groups, its training part the real videos of the other groups and the fakes of every
  other family. Groups never straddle a fold's parts. A group whose fakes are all of one family is held out
  in that family's fold; groups with several families (one source, many manipulations, as in FF++) or none
  are spread over the folds. The folds table says so with one more column, ``family_fold``: the fold whose
  held-out family a fake belongs to (-1 for real videos, and for every video under ``group_kfold``), and
  :func:`fold_roles` turns it into each video's part in a fold: a fake of the held-out family in a training
  group, or of another family in a held-out group, takes part in neither.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

__all__ = [
    "FOLD_COLUMNS", "STRATEGIES", "fold_balance", "fold_balance_table", "fold_roles", "fold_rows", "heldout_families", "heldout_family", "inner_validation", "make_folds",
    "make_family_folds", "sample_groups", "train_val_ids",
]  # fmt: skip

FOLD_COLUMNS = ["video_id", "group", "label", "fold"]
STRATEGIES = ("group_kfold", "leave_one_family_out")


def make_folds(videos: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """Assign each video a fold in ``0..n_folds-1``; same inputs and seed give the same assignment.

    Rows are sorted by ``video_id`` first so the result does not depend on the order of the index.
    """
    if n_folds < 2:
        raise ValueError(f"split.folds must be at least 2, got {n_folds}")
    table = videos[["video_id", "group", "label"]].sort_values("video_id", kind="stable").reset_index(drop=True)
    n_groups = table["group"].nunique()
    if n_groups < n_folds:
        raise ValueError(f"cannot make {n_folds} folds from {n_groups} group(s): lower split.folds or add videos")
    counts = table["label"].value_counts()
    for label in ("real", "fake"):
        if counts.get(label, 0) == 0:
            raise ValueError(f"no '{label}' videos left after indexing; both classes are needed to train")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.full(len(table), -1, dtype=np.int64)
    y = (table["label"] == "fake").to_numpy(dtype=np.int64)
    for k, (_, val_idx) in enumerate(splitter.split(np.zeros(len(table)), y, groups=table["group"].to_numpy())):
        fold[val_idx] = k
    table["fold"] = fold
    return table[FOLD_COLUMNS]


def make_family_folds(videos: pd.DataFrame, families: list[str], seed: int) -> pd.DataFrame:
    """Leave-one-family-out folds: fold ``k`` holds out ``families[k]`` (see the module docstring).

    ``families`` is the list the workflow scheduled folds for (:func:`heldout_families`); every one must still
    have fakes after indexing, and every fold must keep both classes on both sides, or this fails naming it.
    """
    if len(families) < 2:
        raise ValueError(f"leave_one_family_out needs at least 2 manipulation families, got {families}")
    table = videos[["video_id", "group", "label", "family"]].sort_values("video_id", kind="stable").reset_index(drop=True)
    fakes = table["label"] == "fake"
    present = set(table.loc[fakes, "family"])
    if missing := [f for f in families if f not in present]:
        raise ValueError(f"leave_one_family_out: no fake videos of {', '.join(missing)} are left after indexing (rejected.csv says why)")
    if extra := sorted(present - set(families)):
        raise ValueError(f"leave_one_family_out: fakes of {', '.join(extra)} have no fold (scheduled families: {', '.join(families)})")
    index = {family: k for k, family in enumerate(families)}
    group_families = table[fakes].groupby("group")["family"].agg(lambda f: sorted(set(f)))
    group_fold = {g: index[f[0]] for g, f in group_families.items() if len(f) == 1}
    # Groups with several families, or only real videos: spread over the folds, seeded, in a fixed order.
    spread = sorted(set(table["group"]) - set(group_fold))
    rng = np.random.default_rng(seed)
    for i, group in enumerate(rng.permutation(np.array(spread, dtype=object))):
        group_fold[group] = i % len(families)
    table["fold"] = table["group"].map(group_fold).astype(np.int64)
    table["family_fold"] = np.where(fakes, table["family"].map(index).fillna(-1), -1).astype(np.int64)
    out = table[[*FOLD_COLUMNS, "family", "family_fold"]]
    for k, family in enumerate(families):
        balance = fold_balance(out, k)
        for part in ("train", "val"):
            for label in ("real", "fake"):
                if balance[f"{part}_{label}"] == 0:
                    raise ValueError(f"leave_one_family_out: fold {k} (held-out family {family}) has no {label} videos to "
                                     f"{'train on' if part == 'train' else 'validate on'}; add real videos or groups")  # fmt: skip
    return out


def heldout_families(config: dict) -> list[str]:
    """The families ``leave_one_family_out`` holds out, one fold each, sorted: known before anything runs, so
    Snakemake can schedule the folds. From ``synth.families`` for the embedded corpus, from the sheet's
    ``family`` column for a sample sheet; a folder input records no families."""
    source = config["input"]
    if source["kind"] == "synth":
        from fvc.data.synth import SynthConfig

        families = (config.get("synth") or {}).get("families") or SynthConfig().families
        return sorted(set(families))
    if source["kind"] != "sheet":
        raise ValueError("split.strategy leave_one_family_out needs manipulation families: use a sample sheet with a family "
                         "column (input.kind: sheet), not a real/fake folder")  # fmt: skip
    sheet = pd.read_csv(source["path"], dtype=str, keep_default_na=False)
    if "family" not in sheet.columns:
        raise ValueError(f"split.strategy leave_one_family_out: sample sheet '{source['path']}' has no family column")
    fakes = sheet[sheet.get("label", pd.Series(dtype=str)).str.strip().str.lower() == "fake"]
    if (fakes["family"].str.strip() == "").any():
        raise ValueError(f"split.strategy leave_one_family_out: {int((fakes['family'].str.strip() == '').sum())} fake row(s) of "
                         f"'{source['path']}' have no family")  # fmt: skip
    return sorted(set(fakes["family"].str.strip()))


def fold_roles(folds: pd.DataFrame, fold: int) -> pd.Series:
    """Each video's part in ``fold``: ``train``, ``val`` or ``unused`` (indexed like ``folds``)."""
    if fold not in set(folds["fold"]):
        raise ValueError(f"fold {fold} not in splits (have {sorted(set(folds['fold']))})")
    held = folds["fold"] == fold
    family_fold = folds["family_fold"] if "family_fold" in folds.columns else pd.Series(-1, index=folds.index)
    own_family, other_family = family_fold.eq(fold), family_fold.ne(-1) & family_fold.ne(fold)
    roles = pd.Series("unused", index=folds.index)
    roles[held & ~other_family] = "val"
    roles[~held & ~own_family] = "train"
    return roles


def fold_balance(folds: pd.DataFrame, fold: int) -> dict[str, int]:
    """Videos per part and label of ``fold``: train_real, train_fake, val_real, val_fake, unused."""
    roles = fold_roles(folds, fold)
    counts = {f"{part}_{label}": int(((roles == part) & (folds["label"] == label)).sum()) for part in ("train", "val") for label in ("real", "fake")}
    return {**counts, "unused": int((roles == "unused").sum())}


def heldout_family(folds: pd.DataFrame, fold: int) -> str | None:
    """The family ``fold`` holds out (leave_one_family_out), else None."""
    if "family_fold" not in folds.columns or not (folds["family_fold"] == fold).any():
        return None
    return str(folds.loc[folds["family_fold"] == fold, "family"].iloc[0])


def fold_balance_table(folds: pd.DataFrame, families: list[str] | None = None) -> pd.DataFrame:
    """One row per fold: its held-out family (leave_one_family_out) and :func:`fold_balance`'s counts."""
    rows = []
    for fold in sorted(int(f) for f in folds["fold"].unique()):
        rows.append({"fold": fold, "heldout_family": families[fold] if families else "", **fold_balance(folds, fold)})
    return pd.DataFrame(rows)


def train_val_ids(folds: pd.DataFrame, fold: int) -> tuple[pd.Index, pd.Index]:
    """``video_id``s for training and validation of ``fold``."""
    roles = fold_roles(folds, fold)
    return pd.Index(folds.loc[roles == "train", "video_id"]), pd.Index(folds.loc[roles == "val", "video_id"])


def fold_rows(rows: pd.DataFrame, folds: pd.DataFrame, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split clip-level ``rows`` (``video_id``, ``copy``, ...) for ``fold``.

    Training gets every copy of every training video; validation gets only the untouched copy 0 of each
    validation video. An augmented copy follows its source video's fold, so nothing derived from a
    validation video can reach training.
    """
    train_ids, val_ids = train_val_ids(folds, fold)
    train = rows[rows["video_id"].isin(train_ids)]
    val = rows[rows["video_id"].isin(val_ids) & (rows["copy"] == 0)]
    return train, val


def inner_validation(folds: pd.DataFrame, fold: int, fraction: float, seed: int) -> tuple[pd.Index, pd.Index]:
    """Split the training videos of ``fold`` again, by group and stratified, into (fit, early-stopping) ids.

    Early stopping and threshold choice must not look at the held-out fold, or its scores would be
    optimistic; they use this inner split of the training videos instead.
    """
    if not 0.0 < fraction < 0.5:
        raise ValueError(f"inner_val_fraction must be in (0, 0.5), got {fraction}")
    train_ids, _ = train_val_ids(folds, fold)
    table = folds[folds["video_id"].isin(train_ids)].sort_values("video_id", kind="stable").reset_index(drop=True)
    n_groups = table["group"].nunique()
    if n_groups < 2:
        raise ValueError(f"fold {fold}: {n_groups} training group(s) leave nothing for an inner validation split")
    # Few groups: fewer, larger inner folds rather than failing (a tiny corpus still trains).
    n_splits = min(max(2, round(1.0 / fraction)), n_groups)
    y = (table["label"] == "fake").to_numpy(dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + 1000 * (fold + 1))
    fit_idx, val_idx = next(splitter.split(np.zeros(len(table)), y, groups=table["group"].to_numpy()))
    return pd.Index(table.loc[fit_idx, "video_id"]), pd.Index(table.loc[val_idx, "video_id"])


def sample_groups(videos: pd.DataFrame, fraction: float, seed: int, min_groups: int = 2) -> pd.DataFrame:
    """Whole groups, about ``fraction`` of each label's groups (a group counts under its majority label).

    The stratified sample a hyper-parameter search runs on: relatives stay together, both classes stay in,
    and the same videos, fraction and seed give the same sample. Each label keeps at least ``min_groups``
    groups where it has them, so the sample can still be cross-validated.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction}")
    table = videos.sort_values("video_id", kind="stable").reset_index(drop=True)
    if fraction == 1.0:
        return table
    majority = table.groupby("group", sort=True)["label"].agg(lambda labels: labels.value_counts().sort_index().idxmax())
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for label in sorted(majority.unique()):
        groups = majority.index[majority == label].to_numpy()
        take = min(len(groups), max(min_groups, int(np.ceil(fraction * len(groups)))))
        chosen += list(rng.permutation(groups)[:take])
    return table[table["group"].isin(chosen)].reset_index(drop=True)
