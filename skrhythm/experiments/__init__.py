"""The paper's experiments: the architecture comparison, training models to share, data size.

:func:`compare` (``skrhythm compare``) runs every model of a
:class:`Protocol` on the same cross-validation folds and writes tables,
statistics and plots to a run folder that can be interrupted and resumed;
:func:`train_models` (``skrhythm train``) fits models on a whole data set and
saves each with its model card; :mod:`skrhythm.experiments.datasize`
(``skrhythm datasize``) trains on nested subsets of each fold's training
tracks. The package's parts:

- ``_compare``: the comparison itself (:func:`compare`, :func:`run_comparison`,
  :func:`make_protocol`, :func:`make_model`);
- ``_train``: :func:`train_models`, and ``_card`` the model cards (:func:`model_card`);
- ``_data``: the data, listed before any audio is read (:func:`list_data`,
  :func:`check_folds`), and their cached features (:func:`comparison_features`);
- ``_run_folder``: the run folder's lock, its atomic files and their checks;
- ``_progress``: what a user sees of the fits;
- ``_reports``: tables, statistics and plots (:func:`summarize`,
  :func:`write_tables`, :func:`write_plots`);
- ``_provenance``: configuration, versions and git commit (:func:`run_info`).

The models (:data:`MODELS`) and protocols (:data:`PROTOCOLS`) are plain data
in :mod:`skrhythm._spec`, importable without torch.
"""

from .._spec import (
    DEFAULT_TEMPO_AUGMENT,
    MODELS,
    PROTOCOLS,
    ModelSpec,
    OptionError,
    Protocol,
    resolve_tempo_augment,
)
from ._card import model_card
from ._compare import compare, make_model, make_protocol, run_comparison
from ._data import (
    FEATURE_PARAMS,
    DataListing,
    check_folds,
    class_tempo_ranges,
    comparison_features,
    list_data,
    load_data,
    make_folds,
)
from ._provenance import run_info
from ._reports import comparison_statistics, markdown_table, summarize, write_plots, write_tables
from ._run_folder import RunFolderError, RunFolderLocked
from ._train import card_path, train_models

__all__ = [
    "DEFAULT_TEMPO_AUGMENT",
    "FEATURE_PARAMS",
    "MODELS",
    "PROTOCOLS",
    "DataListing",
    "ModelSpec",
    "OptionError",
    "Protocol",
    "RunFolderError",
    "RunFolderLocked",
    "card_path",
    "check_folds",
    "class_tempo_ranges",
    "compare",
    "comparison_features",
    "comparison_statistics",
    "list_data",
    "load_data",
    "make_folds",
    "make_model",
    "make_protocol",
    "markdown_table",
    "model_card",
    "resolve_tempo_augment",
    "run_comparison",
    "run_info",
    "summarize",
    "train_models",
    "write_plots",
    "write_tables",
]
