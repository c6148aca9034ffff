"""How the documentation's gallery runs the examples."""

import tempfile

#: plot_filters.py writes its plots into the folder it is given: a temporary one here.
EXAMPLE_PLOTS = tempfile.mkdtemp(prefix="skrhythm-docs-plots-")


def example_argv(gallery_conf, script_vars):
    """Command-line arguments of an example when the gallery runs it."""
    return [EXAMPLE_PLOTS] if script_vars["src_file"].endswith("plot_filters.py") else []
