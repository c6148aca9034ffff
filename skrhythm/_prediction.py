"""The numeric core of patch-CNN prediction, without scikit-learn or skorch.

Where patches start, how a track is padded and standardised, the network's
logits of every patch, softmax and the track's vote: what
:class:`skrhythm.classifier.BasePatchCNNClassifier` computes when it
predicts, and what ``skrhythm predict`` computes from a model file read
without scikit-learn (:mod:`skrhythm._saved_model`). Both call these
functions, so both give the same numbers, bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_STANDARDISED",
    "check_finite",
    "check_magnitude",
    "majority_vote",
    "pad_to_patch",
    "patch_hop_of",
    "patch_logits",
    "patch_starts",
    "softmax",
    "track_classes",
    "track_proba",
]

#: Largest input magnitude, in training standard deviations from the training mean,
#: that prediction accepts: standardised values near float32's limit (3.4e38) overflow
#: in the network. (Predictions are also checked to be finite.)
MAX_STANDARDISED = 1e36


def patch_hop_of(patch_hop, patch_frames):
    """The hop between a track's patches: ``patch_hop``, or ``patch_frames`` when it is None.

    The one place that says what a classifier's ``patch_hop=None`` means (no
    overlap), for training, prediction and saved models alike.

    Examples
    --------
    >>> patch_hop_of(None, 250), patch_hop_of(80, 250)
    (250, 80)
    """
    return patch_frames if patch_hop is None else patch_hop


def patch_starts(n_frames, patch_frames, patch_hop):
    """First frames of every full patch of a track.

    Patches start at ``0, hop, 2 * hop, ...`` as long as they fit, so a track
    of ``n_frames >= patch_frames`` frames gives
    ``1 + (n_frames - patch_frames) // patch_hop`` patches. The original code
    stops one patch earlier (a 1292-frame track gives 4 patches at hop 250 and
    13 at hop 80 there, 5 and 14 here).

    Parameters
    ----------
    n_frames, patch_frames, patch_hop : int

    Returns
    -------
    starts : ndarray of int

    Examples
    --------
    >>> patch_starts(1292, 250, 250).tolist()
    [0, 250, 500, 750, 1000]
    """
    if n_frames < patch_frames:
        raise ValueError(f"a track of {n_frames} frames holds no {patch_frames}-frame patch")
    return np.arange(0, n_frames - patch_frames + 1, patch_hop)


def check_magnitude(X, mean, std):
    """Refuse prediction input so far from the training data that the net would overflow."""
    if X.size == 0:
        return
    peak = max(float(X.max()), -float(X.min()))  # no copy of X, unlike np.abs(X)
    if (peak + abs(mean)) / std > MAX_STANDARDISED:
        raise ValueError(
            f"input values reach {peak:.3g}, {peak / std:.3g} training standard "
            f"deviations (training mean {mean:.3g}, std {std:.3g}): the network "
            "would overflow float32 and give NaN probabilities. Pass spectrograms computed "
            "like the training ones"
        )


def pad_to_patch(X, patch_frames, mean):
    """Tracks shorter than a patch padded at the end with the training mean (0 once
    standardised); C-contiguous float32."""
    if X.shape[2] < patch_frames:
        pad = ((0, 0), (0, 0), (0, patch_frames - X.shape[2]))
        X = np.pad(X, pad, constant_values=mean)
    return np.ascontiguousarray(X, dtype=np.float32)


def patch_logits(module, X, *, mean, std, patch_frames, patch_hop, batch_size, device="cpu"):
    """Logits ``(n_tracks, n_patches, n_classes)`` of every patch, a few tracks at a time.

    Networks with a ``forward_windows`` method (the O-net / P-net) take
    whole tracks, so each track is correlated once however much its
    patches overlap; the others take the patches, gathered from the
    tracks. Each batch is standardised as in training. ``X`` holds at least
    one patch per track (see :func:`pad_to_patch`); ``module`` is put in
    evaluation mode.
    """
    import torch

    module = module.eval()
    starts = patch_starts(X.shape[2], patch_frames, patch_hop)
    tracks_per_batch = max(1, batch_size // len(starts))
    logits = []
    with torch.no_grad():
        for first in range(0, len(X), tracks_per_batch):
            tracks = torch.from_numpy(X[first : first + tracks_per_batch]).to(device)
            tracks = (tracks - mean) / std
            if hasattr(module, "forward_windows"):
                batch = module.forward_windows(tracks, starts, patch_frames)
            else:
                patches = tracks.unfold(2, patch_frames, patch_hop).transpose(1, 2)
                batch = module(patches.reshape(-1, *patches.shape[2:]))
            logits.append(batch.reshape(len(tracks), len(starts), -1).cpu().numpy())
    return np.concatenate(logits)


def softmax(logits, axis=-1):
    """Softmax of float64 logits along ``axis`` (shifted by their maximum)."""
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def check_finite(patch_proba, module):
    """Refuse NaN probabilities instead of returning them, naming their cause."""
    bad = ~np.isfinite(patch_proba).all(axis=(1, 2))
    if not bad.any():
        return patch_proba
    if not all(p.isfinite().all() for p in module.parameters()):
        raise ValueError("the network's weights are not finite (NaN or infinity): its training "
                         "diverged; fit it again with a smaller learning rate")
    raise ValueError(
        f"the network's output is not finite for tracks {np.flatnonzero(bad)[:10].tolist()}: "
        "their values are so far from the training data that float32 overflows. Pass "
        "spectrograms computed like the training ones"
    )


def majority_vote(patch_proba):
    """Class index chosen by most patches of each track, ties broken by mean probability.

    Parameters
    ----------
    patch_proba : ndarray of shape (n_tracks, n_patches, n_classes)

    Returns
    -------
    winners : ndarray of shape (n_tracks,) of int
    """
    n_classes = patch_proba.shape[2]
    votes = np.eye(n_classes, dtype=np.int64)[patch_proba.argmax(axis=2)].sum(axis=1)
    # Votes are integers and mean probabilities lie in [0, 1], so adding half the
    # mean orders classes by votes first and by mean probability second.
    return (votes + patch_proba.mean(axis=1) / 2).argmax(axis=1)


def track_proba(patch_proba):
    """Per-track probabilities: the mean of the tracks' patch probabilities."""
    proba = patch_proba.mean(axis=1)
    return proba / proba.sum(axis=1, keepdims=True)


def track_classes(patch_proba, aggregate):
    """Per-track class indices: majority vote (``"vote"``) or argmax of the mean (``"mean"``)."""
    if aggregate == "mean":
        return patch_proba.mean(axis=1).argmax(axis=1)
    return majority_vote(patch_proba)
