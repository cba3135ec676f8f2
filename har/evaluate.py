"""Evaluation: accuracy, top-k, per-class precision/recall/F1, confusion matrix, speed, and tables comparing models."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from har.errors import ArgumentError


@dataclass
class Evaluation:
    """Test figures of one model on one set of clips."""

    classes: list[str]
    y_true: np.ndarray
    probabilities: np.ndarray

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted label of every clip."""
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        """Share of clips whose top prediction is right."""
        return float((self.y_pred == self.y_true).mean())

    def top_k_accuracy(self, k: int = 2) -> float:
        """Share of clips whose true class is among the ``k`` most probable."""
        top = np.argsort(self.probabilities, axis=1)[:, -k:]
        return float((top == self.y_true[:, None]).any(axis=1).mean())

    def confusion(self) -> np.ndarray:
        """Confusion matrix, rows = true class, columns = predicted class."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.y_true, self.y_pred, labels=range(len(self.classes)))

    def loss(self) -> float:
        """Mean cross-entropy: minus the log of the probability given to the true class (lower is better)."""
        true = self.probabilities[np.arange(len(self.y_true)), self.y_true]
        return float(-np.log(np.clip(true, 1e-7, 1.0)).mean()) if len(true) else 0.0

    def per_class_f1(self) -> np.ndarray:
        """F1 of every class, in class order (0 for a class never predicted and never present)."""
        from sklearn.metrics import f1_score

        return f1_score(self.y_true, self.y_pred, labels=range(len(self.classes)), average=None, zero_division=0)

    def mistakes(self) -> np.ndarray:
        """Positions (into ``y_true``) of the clips predicted wrong, the most confident mistakes first."""
        wrong = np.flatnonzero(self.y_pred != self.y_true)
        return wrong[np.argsort(-self.probabilities[wrong].max(axis=1), kind="stable")]

    def report(self) -> str:
        """Per-class precision, recall and F1 (scikit-learn's classification report)."""
        from sklearn.metrics import classification_report

        return classification_report(
            self.y_true, self.y_pred, labels=range(len(self.classes)), target_names=self.classes, zero_division=0
        )

    def pair_accuracy(self, pairs: Sequence[tuple[str, str]]) -> float | None:
        """Among clips of paired classes predicted as one of the pair, the share predicted right: for classes that
        differ only in motion (Grow/Shrink), 0.5 is chance, what a model blind to time gets."""
        index = {name: i for i, name in enumerate(self.classes)}
        right = total = 0
        for a, b in pairs:
            if a not in index or b not in index:
                continue
            pair = {index[a], index[b]}
            inside = np.isin(self.y_true, list(pair)) & np.isin(self.y_pred, list(pair))
            right += int((self.y_pred[inside] == self.y_true[inside]).sum())
            total += int(inside.sum())
        return right / total if total else None


def predict_clips(model, frames: np.ndarray, indices: np.ndarray | None = None, batch_size: int = 16) -> np.ndarray:
    """Class probabilities of clips ``frames[indices]``, batch by batch (no float copy of the clips).

    A short last batch is padded to ``batch_size`` (by repeating its last clip), so every batch has one shape
    and TensorFlow traces the model's prediction once, however many sets of clips are evaluated.
    """
    indices = np.arange(len(frames)) if indices is None else np.asarray(indices)
    out = []
    for i in range(0, len(indices), batch_size):
        batch = indices[i : i + batch_size]
        padded = np.concatenate([batch, np.repeat(batch[-1:], batch_size - len(batch))])
        out.append(np.asarray(model.predict_on_batch(frames[padded]))[: len(batch)])
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]))


def clips_per_second(
    model, frames: np.ndarray, indices: np.ndarray | None = None, batch_size: int = 16, min_seconds: float = 1.0
) -> float:
    """Clips of ``frames[indices]`` classified per second, in batches of ``batch_size``.

    One batch first, untimed (TensorFlow traces the model then); then passes over the clips until ``min_seconds``
    have passed, so a fast model on a few clips is timed over more than one pass.
    """
    indices = np.arange(len(frames)) if indices is None else np.asarray(indices)
    if len(indices) == 0:
        raise ArgumentError("no clips to time")
    predict_clips(model, frames, indices[:batch_size], batch_size)
    done, start = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - start < min_seconds:
        predict_clips(model, frames, indices, batch_size)
        done += len(indices)
    return done / (time.perf_counter() - start)


@dataclass
class ModelFigures:
    """What the approaches table shows of one model: its approach, size, costs and test figures."""

    approach: str
    parameters: int
    epoch_seconds: float | None  # median seconds per training epoch (None: not recorded)
    clips_per_second: float | None  # None: not timed (a model tested through its feature cache)
    evaluation: Evaluation
    note: str = ""  # e.g. "not measured: no ImageNet weights"


def _table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|---" * len(rows[0]) + "|")
    return "\n".join(lines)


def _pair_text(evaluation: Evaluation, pairs: Sequence[tuple[str, str]]) -> str:
    pair = evaluation.pair_accuracy(pairs)
    return f"{pair:.1%}" if pair is not None else "–"


def approaches_table(figures: dict[str, ModelFigures], pairs: Sequence[tuple[str, str]] = ()) -> str:
    """A Markdown table of the approaches side by side: parameters, s/epoch, clips/s, accuracy, motion-pair; a model
    with a ``note`` (figures that would mislead) shows the note instead of its accuracies."""
    rows = [["approach", "model", "parameters", "s / training epoch", "clips/s predicted", "test accuracy"]]
    rows[0] += ["motion-pair accuracy"] if pairs else []
    for name, f in figures.items():
        seconds = f"{f.epoch_seconds:.1f}" if f.epoch_seconds is not None else "–"
        speed = f"{f.clips_per_second:.0f}" if f.clips_per_second is not None else "–"
        row = [f.approach, name, f"{f.parameters:,}", seconds, speed, f.note or f"{f.evaluation.accuracy:.1%}"]
        if pairs:
            row.append("–" if f.note else _pair_text(f.evaluation, pairs))
        rows.append(row)
    return _table(rows)


def evaluate_model(model, dataset, indices: np.ndarray | None = None, batch_size: int = 16) -> Evaluation:
    """Evaluate ``model`` on the clips ``indices`` of a ``har.dataset.Dataset`` (all clips by default)."""
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
    inputs = dataset.inputs(model.input_shape[-1])
    if tuple(model.input_shape[1:]) != tuple(inputs.shape[1:]):
        raise ArgumentError(
            f"the model {model.name} takes clips of shape {tuple(model.input_shape[1:])}, "
            f"the dataset holds {tuple(inputs.shape[1:])}: build the dataset at the model's size"
        )
    if model.output_shape[-1] != len(dataset.classes):
        raise ArgumentError(f"the model {model.name} names {model.output_shape[-1]} classes, the dataset has "
                            f"{len(dataset.classes)}")  # fmt: skip
    probabilities = predict_clips(model, inputs, indices, batch_size)
    return Evaluation(list(dataset.classes), dataset.labels[indices], probabilities)


def comparison_table(results: dict[str, Evaluation], pairs: Sequence[tuple[str, str]] = ()) -> str:
    """A Markdown table: accuracy, top-2 accuracy and (with ``pairs``) motion-pair accuracy per model."""
    rows = [["model", "accuracy", "top-2 accuracy"] + (["motion-pair accuracy"] if pairs else [])]
    for name, evaluation in results.items():
        row = [name, f"{evaluation.accuracy:.1%}", f"{evaluation.top_k_accuracy(2):.1%}"]
        rows.append(row + ([_pair_text(evaluation, pairs)] if pairs else []))
    return _table(rows)


def best_model(validation: dict[str, Evaluation]) -> str:
    """The model to keep, chosen on validation clips (never the test clips): best accuracy, then lowest loss."""
    if not validation:
        raise ArgumentError("no models to choose from")
    return max(validation, key=lambda name: (validation[name].accuracy, -validation[name].loss()))


def mistakes_table(results: dict[str, Evaluation]) -> str:
    """A Markdown table: per model, how many clips it gets wrong, and of those how many each other model gets right
    (all results on the same clips, in the same order)."""
    names = list(results)
    truth = next(iter(results.values())).y_true if names else np.array([])
    if any(not np.array_equal(r.y_true, truth) for r in results.values()):
        raise ArgumentError("the results are not on the same clips")
    right = {name: results[name].y_pred == truth for name in names}
    rows = [["model", "wrong", *(f"of those, {other} right" for other in names)]]
    for name in names:
        wrong = ~right[name]
        cells = ["–" if other == name else str(int((wrong & right[other]).sum())) for other in names]
        rows.append([name, f"{int(wrong.sum())} of {len(truth)}", *cells])
    return _table(rows)
