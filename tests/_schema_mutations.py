"""The mutations of a skops file's schema and arrays, for the model-file fuzzer.

:func:`schema_mutations` walks every node of a file's ``schema.json`` (a
dict with a ``__loader__``) and applies each operator that fits it: remove,
duplicate, change its type, its ``__class__``, ``__module__``,
``__loader__`` or ``__id__`` (shared references), add unknown members; JSON
values to NaN, infinities, huge, negative, zero; arrays to another dtype,
shape or values, or a damaged ``.npy`` member. Each damaged file is rezipped
with correct CRC-32s, so that the damage reaches skops and the objects.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from _zip_writer import Entry, build_zip, read_entries

SCHEMA = "schema.json"


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutation:
    """One damaged file: ``make()`` gives its bytes.

    ``name`` is unique (base, where, what); ``kind`` is the operator (the
    class in the tables); ``where`` names the field or zip element.
    ``must_refuse``: the damage is one that no loader may accept (a zip
    archive that zip readers disagree on, an unknown attribute), so loading
    it is a failure even when the model then works.
    """

    name: str
    kind: str
    where: str
    make: Callable[[], bytes] = field(compare=False, repr=False)
    must_refuse: bool = False


class _Pairs(dict):
    """A JSON object written with these (possibly repeated) keys, in order."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.pairs = list(pairs)


def _to_json(value) -> str:
    if isinstance(value, _Pairs):
        items = value.pairs
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        return "[" + ",".join(_to_json(v) for v in value) + "]"
    else:
        return json.dumps(value)
    return "{" + ",".join(f"{json.dumps(k)}:{_to_json(v)}" for k, v in items) + "}"


_IDS = iter(range(7 * 10**15, 8 * 10**15))


def json_node(value) -> dict:
    """A skops JsonNode (skops writes every JSON value with class ``str``)."""
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": next(_IDS),
    }


def _type_node() -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "TypeNode",
        "__id__": next(_IDS),
    }


def _container(kind: str, content) -> dict:
    loader = {"list": "ListNode", "tuple": "TupleNode", "dict": "DictNode"}[kind]
    node = {
        "__class__": kind,
        "__module__": "builtins",
        "__loader__": loader,
        "content": content,
        "__id__": next(_IDS),
    }
    if kind == "dict":
        node["key_types"] = _container("list", [_type_node() for _ in content])
    return node


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npy_header(shape, descr="<f4", fortran=False) -> bytes:
    """An .npy header (version 1.0) for an array that the data may not match."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape})
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


@dataclass
class File:
    """A skops file taken apart: its schema (as text) and members, in order."""

    schema_text: str
    members: dict[str, bytes]

    @classmethod
    def parse(cls, data: bytes) -> File:
        entries = read_entries(data)
        members = {e.name.decode(): e.data for e in entries}
        return cls(members.pop(SCHEMA).decode(), members)

    def schema(self) -> dict:
        return json.loads(self.schema_text)

    def pack(self, schema, members: dict[str, bytes] | None = None) -> bytes:
        """A valid zip (correct CRC-32s) of ``schema`` and the members."""
        members = self.members if members is None else members
        text = schema if isinstance(schema, str) else _to_json(schema)
        return build_zip(
            [Entry.stored(SCHEMA, text.encode())]
            + [Entry.stored(name, blob) for name, blob in members.items()]
        )


def _nodes(value, path=()) -> Iterator[tuple[tuple, dict]]:
    """Every skops node of a schema (a dict with ``__loader__``), with its path.

    Of a ``key_types`` list (one TypeNode per key, all alike) only the first
    and last entries are walked.
    """
    if isinstance(value, dict):
        if "__loader__" in value:
            yield path, value
        for key, item in value.items():
            if key == "key_types" and isinstance(item, dict):
                content = item.get("content") or []
                yield (*path, key), item
                for i in sorted({0, len(content) - 1} if content else set()):
                    yield from _nodes(content[i], (*path, key, "content", i))
            else:
                yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nodes(item, (*path, i))


def _label(path: tuple) -> str:
    """``path`` as attribute names: ``.steps[1][1].module_.state.0.weight``."""
    out = ""
    for i, key in enumerate(path):
        if key == "content":
            out += ".__dict__" if i == len(path) - 1 else ""
            continue
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out if out.startswith(".") else "<root>" + out


def member_labels(file: File) -> dict[bytes, str]:
    """The name of each member of the archive, by what it holds (its node's label)."""
    labels = {SCHEMA.encode(): SCHEMA}
    for path, node in _nodes(file.schema()):
        if isinstance(node.get("file"), str):
            labels.setdefault(node["file"].encode(), _label(path))
    return labels


def _field(path: tuple) -> str:
    """The last named member on the path: the attribute or key mutated."""
    names = [k for k in path if isinstance(k, str) and k != "content"]
    return names[-1] if names else "<root>"


def _at(schema, path):
    for key in path:
        schema = schema[key]
    return schema


def _dict_members(schema: dict, path: tuple) -> bool:
    """Whether the node at ``path`` is a member of a DictNode's content."""
    if len(path) < 2 or path[-2] != "content":
        return False
    parent = _at(schema, path[:-2])
    return parent.get("__loader__") == "DictNode" and isinstance(path[-1], str)


# Values for JsonNode contents, by the type of the value they replace.
_NUMBER_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "huge-float": 1e308,
    "huge-int": 2**62,
    "bigger-than-int64": 10**30,
    "zero": 0,
    "negative": -1,
    "true": True,
}
_STRING_VALUES = {
    "empty": "",
    "other": "evil",
    "long": "x" * 100_000,
    "path": "/tmp/skmnist-fuzz-folder",
    "unicode": "\u00e9\u0000\ud7ff",
}
_TYPES = {
    "str": lambda: json_node("x"),
    "int": lambda: json_node(1),
    "float": lambda: json_node(0.5),
    "None": lambda: json_node(None),
    "list": lambda: _container("list", [json_node(1)]),
    "tuple": lambda: _container("tuple", []),
    "dict": lambda: _container("dict", {}),
}
_LOADERS = (
    "ObjectNode",
    "DictNode",
    "ListNode",
    "TupleNode",
    "JsonNode",
    "TypeNode",
    "NdArrayNode",
    "RandomStateNode",
    "CachedNode",
    "FunctionNode",
)
# Attributes added to an estimator: an unknown one, and ones that shadow methods.
_ADDED_ATTRIBUTES = ("evil_", "predict", "transform", "fit", "__class__", "__dict__")


def schema_mutations(file: File, base: str) -> Iterator[Mutation]:
    schema = file.schema()
    all_nodes = list(_nodes(schema))
    first_array = next(
        (n["__id__"] for _, n in all_nodes if n.get("__loader__") == "NdArrayNode"),
        None,
    )
    root_id = schema.get("__id__")

    for path, node in all_nodes:
        where = _label(path)
        name = _field(path)

        def mutation(kind, edit, where=where, name=name, path=path):
            def make():
                schema = file.schema()
                members = dict(file.members)
                result = edit(schema, _at(schema, path), members)
                schema = schema if result is None else result
                if not kind.startswith(_KEEP_ID):
                    _fresh_id(schema, path)
                return file.pack(schema, members)

            return Mutation(
                f"{base}:{where}:{kind}",
                kind,
                f"{base}:{name}",
                make,
                must_refuse=kind.startswith("schema:add-member"),
            )

        yield from _node_mutations(mutation, schema, path, node, first_array, root_id)


#: The mutations that set a node's ``__id__`` on purpose (or remove the node).
_KEEP_ID = ("schema:__id__", "schema:cached=", "schema:remove")


def _fresh_id(schema, path) -> None:
    """Give the mutated node an ``__id__`` of its own.

    skops builds a node whose ``__id__`` it has met already as that earlier
    node (a shared reference): a mutated node keeping an id that an earlier
    node shares (every ``false``, ``0`` or ``None`` does) would be ignored.
    """
    try:
        node = _at(schema, path)
    except (LookupError, TypeError):
        return
    if isinstance(node, dict) and "__id__" in node:
        node["__id__"] = next(_IDS)


def _replace(path, new):
    """An edit that puts ``new()`` (a node) where the node at ``path`` is."""

    def edit(schema, node, members):
        if not path:
            return new()
        _at(schema, path[:-1])[path[-1]] = new()

    return edit


def _node_mutations(mutation, schema, path, node, first_array, root_id):
    loader = node.get("__loader__")
    parent = _at(schema, path[:-1]) if path else None

    # remove, duplicate
    if path:

        def remove(schema, node, members):
            container = _at(schema, path[:-1])
            del container[path[-1]]
            if _dict_members(schema, path):  # keep key_types as long as the keys
                _at(schema, path[:-2])["key_types"]["content"].pop()

        yield mutation("schema:remove", remove)
        if isinstance(parent, list):

            def duplicate(schema, node, members):
                _at(schema, path[:-1]).insert(path[-1], json.loads(json.dumps(node)))

            yield mutation("schema:duplicate", duplicate)
        else:

            def duplicate_key(schema, node, members):  # the same key twice
                container = _at(schema, path[:-1])
                pairs = []
                for key, value in container.items():
                    if key == path[-1]:
                        pairs.append((key, json_node(None)))
                    pairs.append((key, value))
                if len(path) == 1:
                    return _Pairs(pairs)
                _at(schema, path[:-2])[path[-2]] = _Pairs(pairs)

            yield mutation("schema:duplicate-key", duplicate_key)

    # change its type
    for type_name, new in _TYPES.items():
        yield mutation(f"schema:type={type_name}", _replace(path, new))

    def new_array():
        node = {
            "__class__": "ndarray",
            "__module__": "numpy",
            "__loader__": "NdArrayNode",
            "type": "numpy",
            "file": "fuzz_added.npy",
            "__id__": next(_IDS),
        }
        return node

    def to_array(schema, node, members):
        members["fuzz_added.npy"] = npy(np.zeros(3, dtype=np.float32))
        return _replace(path, new_array)(schema, node, members)

    yield mutation("schema:type=ndarray", to_array)

    # its __class__, __module__, __loader__, __id__ and members of the node
    def set_key(key, value):
        def edit(schema, node, members):
            node[key] = value

        return edit

    for value in ("int", "Pipeline", None):
        yield mutation(f"schema:__class__={value}", set_key("__class__", value))
    for value in ("os", None):
        yield mutation(f"schema:__module__={value}", set_key("__module__", value))
    others = [name for name in _LOADERS[:-1] if name != loader]
    swapped = others[zlib.crc32(repr(path).encode()) % len(others)]  # one, fixed
    for value in (swapped, "FunctionNode", None):
        yield mutation(f"schema:__loader__={value}", set_key("__loader__", value))
    if "__id__" in node:

        def drop_id(schema, node, members):
            del node["__id__"]

        yield mutation("schema:__id__-removed", drop_id)
        yield mutation("schema:__id__=string", set_key("__id__", "1"))
        if first_array is not None and node["__id__"] != first_array:
            yield mutation("schema:__id__=first-array", set_key("__id__", first_array))
        if root_id is not None and path:
            yield mutation("schema:__id__=root", set_key("__id__", root_id))

    def cached(target):
        def edit(schema, node, members):
            return _replace(
                path,
                lambda: {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "CachedNode",
                    "__id__": target,
                },
            )(schema, node, members)

        return edit

    if path and root_id is not None:
        yield mutation("schema:cached=root", cached(root_id))
    if path and first_array is not None:
        yield mutation("schema:cached=first-array", cached(first_array))
    yield mutation("schema:node-member", set_key("__reduce__", json_node("os.system")))

    owner = parent.get("__loader__") if isinstance(parent, dict) else None
    yield from _kind_mutations(mutation, node, loader, owner, set_key)


def _kind_mutations(mutation, node, loader, owner, set_key):
    """The operators of one kind of node: dicts, lists, JSON values, arrays."""
    content = node.get("content")
    if loader == "DictNode" and isinstance(content, dict):
        # An estimator's attributes (its ObjectNode's content), or a plain dict.
        for attribute in _ADDED_ATTRIBUTES if owner == "ObjectNode" else ("evil_",):

            def add(schema, node, members, attribute=attribute):
                node["content"][attribute] = json_node(1)
                node["key_types"]["content"].append(_type_node())

            yield mutation(f"schema:add-member={attribute}", add)

        def int_key(schema, node, members):
            node["key_types"]["content"][-1]["__class__"] = "int"
            node["key_types"]["content"][-1]["__id__"] = next(_IDS)

        if content:
            yield mutation("schema:key-type=int", int_key)

        def fewer_key_types(schema, node, members):
            node["key_types"]["content"].pop()

        if content:
            yield mutation("schema:key-types-short", fewer_key_types)
    if loader in ("ListNode", "TupleNode") and isinstance(content, list):

        def empty(schema, node, members):
            node["content"] = []

        def append(schema, node, members):
            node["content"].append(json_node(1))

        def reverse(schema, node, members):
            node["content"].reverse()

        yield mutation("schema:list-empty", empty)
        yield mutation("schema:list-append", append)
        if len(content) > 1:
            yield mutation("schema:list-reverse", reverse)
    if loader == "JsonNode" and isinstance(content, str):
        yield from _json_mutations(mutation, json.loads(content), set_key)
    if loader == "NdArrayNode":
        yield from _array_mutations(mutation, node)


def _json_mutations(mutation, value, set_key):
    def to(new):
        def edit(schema, node, members):
            node["content"] = new if isinstance(new, str) else json.dumps(new)

        return edit

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for op, new in _NUMBER_VALUES.items():
            yield mutation(f"json:{op}", to(json.dumps(new)))
        if value:
            yield mutation("json:negated", to(json.dumps(-value)))
            yield mutation("json:tiny", to(json.dumps(value * 1e-300)))
        if isinstance(value, int):
            yield mutation("json:as-float", to(json.dumps(float(value))))
            yield mutation("json:plus-one", to(json.dumps(value + 1)))
        else:
            yield mutation("json:as-int", to(json.dumps(int(value))))
    elif isinstance(value, bool):
        yield mutation("json:bool-as-int", to(json.dumps(int(value))))
        yield mutation("json:bool-flipped", to(json.dumps(not value)))
    elif isinstance(value, str):
        for op, new in _STRING_VALUES.items():
            yield mutation(f"json:str-{op}", to(json.dumps(new)))
    elif value is None:
        yield mutation("json:None-to-zero", to("0"))
    yield mutation("json:not-json", to("{not json"))
    yield mutation("json:content-int", set_key("content", 3))
    yield mutation("json:is_json-false", set_key("is_json", False))


def _array_edit(transform):
    """An edit of an NdArrayNode's member: ``transform(array)`` gives new bytes."""

    def edit(schema, node, members):
        name = node["file"]
        array = np.load(io.BytesIO(members[name]), allow_pickle=False)
        new = transform(array)
        members[name] = new if isinstance(new, bytes) else npy(new)

    return edit


def _as(array: np.ndarray, dtype: str) -> np.ndarray:
    """``array`` as ``dtype``; zeros of it where the values do not convert."""
    try:
        with np.errstate(all="ignore"):
            return array.astype(dtype)
    except (TypeError, ValueError):
        return np.zeros(array.shape, dtype=dtype)


def _array_mutations(mutation, node):
    dtypes = ("float64", "float32", "float16", "int64", "int8", "uint8", "bool")
    for dtype in (*dtypes, "complex64", "<U4", ">f4", "datetime64[s]", "V4"):
        yield mutation(
            f"array:dtype={dtype}", _array_edit(lambda a, d=dtype: _as(a, d))
        )

    def object_header(a):
        return _npy_header(a.shape, "|O") + b"\x80\x04N."

    def two(a):  # [a, a] along the first axis
        return np.concatenate([a, a[:1]]) if a.ndim and len(a) else np.stack([a, a])

    shapes = {
        "transpose": lambda a: a.T.copy() if a.ndim == 2 else a.reshape(-1, 1),
        "ravel": lambda a: a.ravel() if a.ndim > 1 else a.reshape(1, -1),
        "add-dim": lambda a: a[None],
        "add-row": two,
        "drop-row": lambda a: a[1:] if a.ndim else a.reshape(1)[:0],
        "add-column": lambda a: (
            np.concatenate([a, a[:, :1]], 1)
            if a.ndim == 2 and a.shape[1]
            else np.stack([a.ravel(), a.ravel()], 1)
        ),
        "empty": lambda a: a[:0] if a.ndim else a.reshape(1)[:0],
        "scalar": lambda a: (
            a.reshape(-1)[:1].reshape(()) if a.size else np.zeros((), a.dtype)
        ),
        "fortran": np.asfortranarray,
    }
    for op, transform in shapes.items():
        yield mutation(f"array:shape-{op}", _array_edit(transform))

    def values(op):
        def transform(a):
            a = a.copy()
            flat = a.reshape(-1)
            if not flat.size:
                return a
            if op == "reverse":
                return a[::-1].copy() if a.ndim else a
            if op == "repeat-first":
                flat[-1] = flat[0]
                return a
            if a.dtype.kind not in "iuf":
                return a
            info = np.finfo(a.dtype) if a.dtype.kind == "f" else np.iinfo(a.dtype)
            if op == "nan" and a.dtype.kind == "f":
                flat[0] = np.nan
            elif op == "all-nan" and a.dtype.kind == "f":
                flat[:] = np.nan
            elif op == "inf" and a.dtype.kind == "f":
                flat[0] = np.inf
            elif op == "-inf" and a.dtype.kind == "f":
                flat[0] = -np.inf
            elif op == "huge":
                flat[:] = info.max
            elif op == "negative":
                flat[:] = -np.abs(flat) - 1 if a.dtype.kind != "u" else info.max
            elif op == "zero":
                flat[:] = 0
            return a

        return transform

    ops = ("nan", "all-nan", "inf", "-inf", "huge", "negative", "zero")
    for op in (*ops, "reverse", "repeat-first"):
        yield mutation(f"array:value-{op}", _array_edit(values(op)))

    npy_damage = {
        "object-header": object_header,
        "huge-shape-header": lambda a: (
            _npy_header((2**40,), a.dtype.str) + npy(a)[128:]
        ),
        "truncated": lambda a: npy(a)[: len(npy(a)) // 2 + 1],
        "header-only": lambda a: npy(a)[:128],
        "garbage": lambda a: b"\x00" * 64,
        "empty-member": lambda a: b"",
    }
    for op, transform in npy_damage.items():
        yield mutation(f"array:npy-{op}", _array_edit(transform))

    def point(target):
        def edit(schema, node, members):
            if target == "other-array":
                others = [m for m in members if m != node["file"]]
                node["file"] = others[0] if others else SCHEMA
            else:
                node["file"] = target

        return edit

    for op in ("other-array", SCHEMA, "missing.npy", "../escape.npy", 7):
        yield mutation(f"array:file={op}", point(op))

    def set_type(schema, node, members):
        node["type"] = "json"

    yield mutation("array:type=json", set_type)
