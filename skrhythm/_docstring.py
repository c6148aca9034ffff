"""Documentation written once and placed into several docstrings."""

from __future__ import annotations

import re

__all__ = ["fill_doc"]

#: A line holding only ``{name}``: where an entry goes (other braces, such as
#: ``{"vote", "mean"}``, are left alone).
_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>\w+)\}[ \t]*$", re.MULTILINE)


def fill_doc(entries):
    """Decorator that replaces each ``{name}`` line of a docstring by ``entries[name]``.

    An entry is written unindented (a numpydoc parameter is its
    ``name : type`` line and its description indented by four spaces) and
    takes the indentation of the line it replaces. Lines indented below a
    placeholder continue the entry's description, so a class can add its own
    remarks to a shared entry. Docstrings removed by ``python -OO`` stay
    ``None``.

    Parameters
    ----------
    entries : dict of str to str
        Text of each placeholder name.

    Returns
    -------
    decorate : callable
        Takes a class or function and returns it with its docstring filled.

    Raises
    ------
    ValueError
        At decoration, naming a placeholder that ``entries`` lacks.

    Examples
    --------
    >>> @fill_doc({"lr": "lr : float, default=0.01\\n    Learning rate."})
    ... def train(lr=0.01):
    ...     '''Train.
    ...
    ...     Parameters
    ...     ----------
    ...     {lr}
    ...     '''
    >>> print(train.__doc__.strip())
    Train.
    <BLANKLINE>
        Parameters
        ----------
        lr : float, default=0.01
            Learning rate.
    """

    def decorate(obj):
        def fill(match):
            name, indent = match["name"], match["indent"]
            if name not in entries:
                raise ValueError(
                    f"{obj.__qualname__}: docstring placeholder {{{name}}} has no entry; "
                    f"known: {sorted(entries)}"
                )
            lines = entries[name].splitlines()
            return "\n".join(indent + line if line else line for line in lines)

        if obj.__doc__ is not None:
            obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        return obj

    return decorate
