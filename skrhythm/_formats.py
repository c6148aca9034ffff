"""The format of skrhythm's pickled estimators, and the migration of older formats.

Every skrhythm estimator pickles (and skops-saves) its state stamped with
:data:`STATE_FORMAT` (``_skrhythm_format``) and the skrhythm version, and
checks a state it is given before it builds anything from it
(:class:`SavedStateMixin`): a state of a newer format raises
:class:`ModelVersionError`; one of an older format is migrated here, and
nowhere else; then the parameters are validated as ``fit`` would validate
them (their bounds included), so that a hostile file cannot make skrhythm
allocate gigabytes.

Formats:

1. skrhythm 0.1 (states carry no number). Three layouts of a CNN's net were
   released: the whole skorch net pickled (``net_`` a skorch net, with
   ``history_``); the net's state as a dict ``net_`` (``.skops`` files of
   0.1's ``save_model``, with ``history_``); the net's state as
   ``_net_state``. In all three the filter bank may hold one weight and one
   bias parameter per filter length (``filterbank.weights.0``, ...).
2. skrhythm 0.2: ``_net_state`` with the module's state, the optimizer's
   state and the history, as plain data (NumPy arrays, lists, dicts), the
   filter bank's weights and biases as one flat parameter each.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "ADDED_PARAMS",
    "STATE_FORMAT",
    "ModelVersionError",
    "SavedStateMixin",
    "check_format",
    "merge_per_length_layout",
    "plain",
    "upgrade_cnn_state",
]

#: Format of the states skrhythm writes (see the module docstring).
STATE_FORMAT = 2

#: Parameters added since 0.1 whose default is not what a model saved before
#: them was trained with: a state lacking them takes these values.
ADDED_PARAMS = {"momentum": 0.0, "nesterov": False}


class ModelVersionError(ValueError):
    """A model was saved in a format this skrhythm cannot read (a newer release's)."""


def check_format(found, what):
    """Refuse a state or file of a format newer than :data:`STATE_FORMAT`.

    Parameters
    ----------
    found : int or None
        The format it records (None: format 1, which recorded none).
    what : str
        What it is, for the message (a file name, a class).

    Raises
    ------
    ModelVersionError
    """
    found = 1 if found is None else found
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ValueError(f"{what} records no valid state format ({found!r})")
    if found > STATE_FORMAT:
        raise ModelVersionError(
            f"{what} was saved in state format {found} by a newer skrhythm; this skrhythm "
            f"reads formats up to {STATE_FORMAT}: install the skrhythm that saved it, or fit "
            "the model again"
        )


def plain(obj):
    """Copy of nested dicts, lists and tuples with tensors as NumPy arrays (on the CPU)
    and NumPy scalars as Python scalars."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(value) for value in obj)
    return obj


class SavedStateMixin:
    """Pickled state stamped with :data:`STATE_FORMAT`, checked before it is used.

    ``__setstate__`` refuses newer formats, calls :meth:`_upgrade_state` (the
    subclass's migration of older ones), sets the state, and validates the
    parameters as ``fit`` does (``_validate_params``, bounds included) and
    the fitted attributes (:meth:`_check_loaded`).
    """

    def __getstate__(self):
        from . import __version__

        state = dict(super().__getstate__())
        state["_skrhythm_format"] = STATE_FORMAT
        state["_skrhythm_version"] = __version__
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        check_format(state.pop("_skrhythm_format", None), f"this {type(self).__name__}")
        version = state.pop("_skrhythm_version", None)
        if version != __version__:
            warnings.warn(
                f"a model saved by skrhythm {version or '0.1'} is loaded by skrhythm "
                f"{__version__}: its state is read, but its predictions may differ slightly; "
                "fit it again to be sure",
                UserWarning,
                stacklevel=2,
            )
        state = self._upgrade_state(state)
        super().__setstate__(state)
        self._validate_params()
        self._check_loaded()

    def _upgrade_state(self, state):
        """A state of an older format in today's (the subclass's migration); here unchanged."""
        return state

    def _check_loaded(self):
        """Check the fitted attributes of a loaded estimator (none here)."""


def upgrade_cnn_state(state, param_names, defaults):
    """A CNN classifier's state of format 1 or 2 in format 2, and its net's state apart.

    Parameters
    ----------
    state : dict
        The estimator's state, without the format stamp.
    param_names : list of str
        The estimator's parameters: those the state lacks (added since it was
        saved) take their ``defaults``, or the value in :data:`ADDED_PARAMS`
        that keeps what the saved model was.
    defaults : dict
        Default of each parameter.

    Returns
    -------
    state : dict
        Parameters and fitted attributes, without the net.
    net_state : dict or None
        ``module``, ``optimizer`` (state dicts of NumPy arrays) and ``history``
        (list of dicts), or None for an unfitted estimator. The module state
        may still be in the per-length layout (see
        :func:`merge_per_length_layout`, which needs the rebuilt net).
    """
    state = dict(state)
    net_state = state.pop("_net_state", None)
    net = state.get("net_")
    if isinstance(net, dict):  # format 1: a .skops file of 0.1's save_model
        net_state = {**state.pop("net_"), "history": state.pop("history_")}
    elif net is not None:  # format 1: the whole skorch net was pickled
        state.pop("net_")
        state.pop("history_", None)
        state.setdefault("device_", str(net.device))
        net_state = {"module": plain(net.module_.state_dict()),
                     "optimizer": plain(net.optimizer_.state_dict()),
                     "history": plain(list(net.history))}
    missing = {name: ADDED_PARAMS.get(name, defaults[name]) for name in param_names}
    return {**missing, **state}, net_state


def is_per_length_layout(module_state):
    """Whether a module state has a filter bank of one parameter per filter length (format 1)."""
    return any(key.endswith("weights.0") for key in module_state)


def merge_per_length_layout(net, module_state, optimizer_state):
    """Module and optimizer state of format 1's per-length filter banks, merged into format 2's.

    Format 1's :class:`~skrhythm.nn.FilterBank1xN` could hold one weight
    matrix and one bias vector per filter length (``weights.0``, ...,
    ``biases.0``, ...), each a parameter of its own. This maps such state onto
    the flat ``weight`` and ``bias`` of the banks of ``net``'s module: the
    per-length tensors, and each tensor of the optimizer's per-parameter
    state (momentum, Adam's moments), are concatenated in length order; any
    other entry (Adam's step count, the same for all) is taken from the
    first. State in the flat layout is returned as it is.

    Parameters
    ----------
    net : skorch net
        The initialized net the state is for, built with today's layout; its
        optimizer's parameter groups give the numbering of the old
        parameters and the new.
    module_state, optimizer_state : dict
        The saved ``state_dict()`` of the module and the optimizer (tensors).

    Returns
    -------
    module_state, optimizer_state : dict
    """
    import torch

    from .nn.filterbank import FilterBank1xN

    per_length = {}
    for name, bank in net.module_.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(bank, FilterBank1xN) and f"{prefix}weights.0" in module_state:
            for flat, old in (("weight", "weights"), ("bias", "biases")):
                per_length[prefix + flat] = [f"{prefix}{old}.{i}" for i in range(len(bank.lengths))]
    if not per_length:
        return module_state, optimizer_state

    def numbering(names):  # skorch's rule: parameter groups, in its order
        groups = net.get_params_for_optimizer("optimizer", [(n, n) for n in names])[0][0]
        return [name for group in groups for name in group["params"]]

    module_state = dict(module_state)
    for flat, old in per_length.items():
        module_state[flat] = torch.cat([module_state.pop(key).reshape(-1) for key in old])
    names = [name for name, _ in net.module_.named_parameters()]
    old_names = [key for name in names for key in per_length.get(name, [name])]
    old_index = {key: i for i, key in enumerate(numbering(old_names))}
    saved, state = optimizer_state["state"], {}
    for i, name in enumerate(numbering(names)):
        parts = [saved.get(old_index[key]) for key in per_length.get(name, [name])]
        if any(part is None for part in parts):
            continue  # a piece never stepped: the merged parameter starts afresh
        if name not in per_length:
            state[i] = parts[0]
            continue
        state[i] = {key: torch.cat([part[key].reshape(-1) for part in parts])
                    if torch.is_tensor(value) and value.ndim else value
                    for key, value in parts[0].items()}  # fmt: skip
    numbered = net.optimizer_.state_dict()["param_groups"]
    if len(numbered) != len(optimizer_state["param_groups"]):
        raise ValueError(
            f"the saved optimizer has {len(optimizer_state['param_groups'])} parameter "
            f"groups, this one {len(numbered)}"
        )
    groups = [{**group, "params": new["params"]}
              for group, new in zip(optimizer_state["param_groups"], numbered)]  # fmt: skip
    return module_state, {"state": state, "param_groups": groups}
