"""Plain data of a skops file, read from its schema without building any object.

A ``.skops`` file is a zip archive: ``schema.json`` describes every object as
a tree of nodes, and arrays are ``.npy`` members. :func:`read_schema` turns
the nodes skrhythm's model files use into plain Python data: dicts, lists,
tuples, JSON values, NumPy arrays (read with ``allow_pickle=False``), objects
as :class:`SkopsObject` (the class's name and its state, never an instance)
and types as their names. It imports no class and runs no code of the file,
so it serves before :mod:`skops.io` builds anything (the metadata checks of
:mod:`skrhythm.persistence`), and without scikit-learn (the fast path of
``skrhythm predict``). Any other node raises :class:`SchemaError`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass

import numpy as np

__all__ = ["SchemaError", "SkopsObject", "read_schema"]


class SchemaError(ValueError):
    """The file is no skops file, or holds a node this reader does not read."""


@dataclass(frozen=True)
class SkopsObject:
    """An object of a skops file, as data: its class's ``"module.Class"`` and its state."""

    type_name: str
    state: dict


def read_schema(path, key=None):
    """The plain data a skops file holds (or its top-level entry ``key``).

    Parameters
    ----------
    path : str or path-like
    key : str or None
        Read only this entry of the file's top-level dict (e.g. ``"metadata"``).

    Returns
    -------
    data : object

    Raises
    ------
    SchemaError
        If the file is no skops archive, or a node is of a kind not read here.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
            if key is not None:
                if not (isinstance(schema, dict) and schema.get("__loader__") == "DictNode"
                        and isinstance(schema.get("content"), dict)):
                    raise SchemaError("the file's top level is not a dict")
                if key not in schema["content"]:
                    raise SchemaError(f"the file holds no {key!r}")
                schema = schema["content"][key]
            return _plain(schema, archive)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f"not a readable skops file ({type(exc).__name__}: {exc})") from None


def _plain(node, archive):
    if not isinstance(node, dict):
        raise SchemaError(f"unexpected schema entry {str(node)[:60]!r}")
    loader = node.get("__loader__")
    content = node.get("content")
    if loader == "DictNode":
        return {_key(k): _plain(v, archive) for k, v in content.items()}
    if loader == "ListNode":
        return [_plain(v, archive) for v in content]
    if loader == "TupleNode":
        return tuple(_plain(v, archive) for v in content)
    if loader == "JsonNode":
        return json.loads(content)
    if loader == "NdArrayNode" and node.get("type") == "numpy":
        with archive.open(node["file"]) as f:
            return np.load(f, allow_pickle=False)
    if loader == "ObjectNode":
        state = _plain(content, archive)
        if not isinstance(state, dict):
            raise SchemaError("an object's state is not a dict")
        return SkopsObject(_type_name(node), state)
    if loader == "TypeNode":
        return _type_name(node)
    raise SchemaError(f"holds a {loader} node ({_type_name(node)}), which is not read here")


def _key(key):
    if not isinstance(key, str):
        raise SchemaError(f"a dict key {key!r} is not a string")
    return key


def _type_name(node):
    return f"{node.get('__module__')}.{node.get('__class__')}"
