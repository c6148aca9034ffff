"""The paper's experiments: the architecture comparison and the data-size experiment.

:func:`compare` (``skrhythm compare``) runs every model of a
:class:`Protocol` on the same cross-validation folds and writes tables,
statistics and plots to a run folder that can be interrupted and resumed;
:mod:`skrhythm.experiments.datasize` (``skrhythm datasize``) trains on nested
subsets of each fold's training tracks. The package's parts:

- ``_compare``: the comparison itself (:func:`compare`, :func:`run_comparison`,
  :func:`make_protocol`, :func:`make_model`);
- ``_data``: the data, listed before any audio is read (:func:`list_data`,
  :func:`check_folds`), and their cached features (:func:`comparison_features`);
- ``_run_folder``: the run folder's lock, its atomic files and their checks
  (:func:`run_folder_lock`, :func:`read_fold_record`);
- ``_progress``: what a user sees of the fits;
- ``_reports``: tables, statistics and plots (:func:`summarize`,
  :func:`write_tables`, :func:`write_plots`);
- ``_provenance``: configuration, versions and git commit (:func:`run_info`).

The models (:data:`MODELS`) and protocols (:data:`PROTOCOLS`) are plain data
in :mod:`skrhythm._spec`, importable without torch.
"""

from .._spec import MODELS, PROTOCOLS, ModelSpec, OptionError, Protocol
from ._compare import (
    check_run_options,
    compare,
    default_threads,
    make_model,
    make_protocol,
    run_comparison,
    runs_of,
)
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
from ._provenance import git_commit, run_info
from ._reports import (
    comparison_statistics,
    markdown_table,
    pairwise_markdown,
    summarize,
    write_plots,
    write_tables,
)
from ._run_folder import (
    RunFolderError,
    RunFolderLocked,
    read_fold_record,
    run_folder_lock,
    write_json_atomic,
)

__all__ = [
    "FEATURE_PARAMS",
    "MODELS",
    "PROTOCOLS",
    "DataListing",
    "ModelSpec",
    "OptionError",
    "Protocol",
    "RunFolderError",
    "RunFolderLocked",
    "check_folds",
    "check_run_options",
    "class_tempo_ranges",
    "compare",
    "comparison_features",
    "comparison_statistics",
    "default_threads",
    "git_commit",
    "list_data",
    "load_data",
    "make_folds",
    "make_model",
    "make_protocol",
    "markdown_table",
    "pairwise_markdown",
    "read_fold_record",
    "run_comparison",
    "run_folder_lock",
    "run_info",
    "runs_of",
    "summarize",
    "write_json_atomic",
    "write_plots",
    "write_tables",
]
