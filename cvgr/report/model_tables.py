"""The tables with one row per model and setting: the white-box curves in long form, and training.

Deterministic and atomic like every table (:mod:`cvgr.report.tables`): a fixed row order (datasets in
the paper's order, then attack, model and eps), fixed number formats, nothing time-dependent.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..results.records import TrainingHistory, WhiteboxCurve
from ..vocab import dataset_key
from .audit import worst_case
from .tables import (_MODEL_FORMATS, ACC_FMT, PARAM_FMT, _check_unique_keys, curves_by_model, model_columns,
                     read_records, write_csv)

WORST_CASE = "worst"  # the white-box table's per-image worst case over its attacks


# ----------------------------------------------------------------------------- white-box table

_WHITEBOX_COLUMNS = ("dataset", "attack", "model", "field", "defense", "beta", "adv_eps", "eps", "accuracy",
                     "n_images")


def write_whitebox_table(paths: list[str], csv_out: str) -> pd.DataFrame:
    """White-box accuracy curves in long form, one row per (dataset, attack, model, eps).

    Columns ``dataset, attack, model, field, defense, beta, adv_eps, eps, accuracy, n_images``;
    sorted by dataset (paper order), attack (fgsm, pgd<k> by k, ...), model (real/complex,
    std/gr/adv, strength, seed) and eps. Accuracy in %, '%.4f' in the CSV. After the attacks'
    rows come the rows of attack ``worst``: per (dataset, model, eps) that two or more attacks
    ran on the same images, the accuracy on the images that survived all of them.
    """
    curves = read_records(paths, WhiteboxCurve)
    _check_unique_keys(((f"{c.dataset} {c.attack} {c.model}", c.path) for c in curves), "white-box result for")
    rows = []
    ordered = sorted(curves, key=lambda c: (dataset_key(c.dataset), c.attack.sort_key(), c.model.sort_key()))
    for c in ordered:
        eps, acc = c.eps.ravel(), c.accuracy
        for i in np.argsort(eps, kind="stable"):
            rows.append({"dataset": c.dataset, "attack": c.attack.name, **model_columns(c.model),
                         "eps": float(eps[i]), "accuracy": float(acc[i]), "n_images": c.n_images})
    rows += _worst_case_rows(ordered)
    df = pd.DataFrame.from_records(rows, columns=list(_WHITEBOX_COLUMNS))
    write_csv(df, csv_out, {**_MODEL_FORMATS, "eps": PARAM_FMT, "accuracy": ACC_FMT})
    return df


def _worst_case_rows(curves: Sequence[WhiteboxCurve]) -> list[dict[str, Any]]:
    """Attack ``worst``: per (dataset, model, eps) run by two or more attacks on the same images, the share
    of images that every one of those attacks left correctly classified (the robust accuracy AutoAttack reports).
    """
    rows = []
    for (ds, model), group in curves_by_model(curves).items():
        if len(group) < 2 or len({c.labels.tobytes() for c in group}) > 1:
            continue
        for eps in sorted(set.intersection(*({float(e) for e in c.eps} for c in group))):
            robust = worst_case({c.attack.name: c.at(eps) for c in group})
            rows.append({"dataset": ds, "attack": WORST_CASE, **model_columns(model), "eps": eps,
                         "accuracy": 100.0 * float(robust.mean()), "n_images": int(robust.size)})
    return rows


# ----------------------------------------------------------------------------- training table

_TRAINING_COLUMNS = ("dataset", "model", "field", "defense", "beta", "adv_eps", "seed", "mode", "epochs",
                     "train_size", "clean_acc", "final_zeta")


def write_training_table(history_paths: list[str], csv_out: str) -> pd.DataFrame:
    """One row per trained model from the training-history files.

    Columns ``dataset, model, field, defense, beta, adv_eps, seed, mode, epochs, train_size,
    clean_acc, final_zeta`` (clean_acc in % on the evaluation test images after the last epoch,
    final_zeta = the last epoch's mean gradient agreement); sorted by dataset then model.
    """
    histories = read_records(history_paths, TrainingHistory)
    _check_unique_keys(((f"{h.dataset} {h.model}", h.path) for h in histories), "training history of")
    rows = [{"dataset": h.dataset, **model_columns(h.model), "seed": h.model.seed, "mode": h.mode,
             "epochs": h.epochs, "train_size": h.train_size, "clean_acc": h.clean_acc, "final_zeta": h.final_zeta}
            for h in sorted(histories, key=lambda h: (dataset_key(h.dataset), h.model.sort_key()))]
    df = pd.DataFrame.from_records(rows, columns=list(_TRAINING_COLUMNS))
    write_csv(df, csv_out, {**_MODEL_FORMATS, "clean_acc": ACC_FMT, "final_zeta": ACC_FMT})
    return df
