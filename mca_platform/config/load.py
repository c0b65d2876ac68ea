"""Reading a config file: safe YAML, dotted `--set` overrides, validation with one line per problem.

The YAML loader is the safe one, refusing duplicate keys (YAML lets the last silently win); every
number must be finite (`.inf` and `.nan` are refused wherever they appear).
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mca_platform.errors import UserError


def load_config(path: str | Path, overrides: Sequence[str] = (), model: type[BaseModel] | None = None):
    """Load `path` (YAML), apply `key.path=value` overrides, validate; raise UserError on any problem."""
    from mca_platform.config import Config

    model = model or Config
    raw = read_yaml(path)
    for override in overrides:
        apply_override(raw, override, path)
    return validate(model, raw, str(path))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The YAML mapping at `path`, read with the safe loader."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{path}: {where}: invalid YAML ({problem})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: top level must be a mapping of sections (got {type(raw).__name__})")
    return raw


class UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key that appears twice in one mapping (naming both lines)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_line: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in first_line:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (first on line {first_line[key]})",
                            key_node.start_mark)
                    first_line[key] = key_node.start_mark.line + 1
                except TypeError:  # an unhashable key; the base class reports it
                    break
        return super().construct_mapping(node, deep=deep)


def apply_override(raw: dict[str, Any], override: str, path: str | Path) -> None:
    """Set `a.b.c=value` in `raw` in place; the value is parsed as YAML (`[0, 0.4]`, `true`, `1e-4`)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {override}: expected KEY=VALUE with a dotted key (e.g. data.sparsity=[0,0.4])")
    try:
        value = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError:
        raise UserError(f"--set {override}: value is not valid YAML") from None
    parts = key.strip().split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise UserError(f"--set {override}: {where} is a value in {path}, not a section")
        node = child
    node[parts[-1]] = value


def validate(model: type[BaseModel], raw: dict[str, Any], source: str):
    """`model` built from `raw`, or a UserError with one `SOURCE: dotted.path: problem` line per error."""
    nonfinite = list(_nonfinite_paths(raw, ()))
    if nonfinite:
        raise UserError(*(f"{source}: {_dotted(loc)}: must be a finite number (got {value})"
                          for loc, value in nonfinite))
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        items = error.errors()
        kept = [item for item in items if _branch_taken(raw, item["loc"])] or items
        lines = [f"{source}: {describe(model, raw, item)}" for item in kept]
        raise UserError(*dict.fromkeys(lines)) from None


def _nonfinite_paths(node: Any, loc: tuple):
    """(location, value) of every infinite or NaN float in a raw config."""
    if isinstance(node, float) and not math.isfinite(node):
        yield loc, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _nonfinite_paths(value, loc + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nonfinite_paths(value, loc + (index,))


def _branch_taken(raw: Any, loc: tuple) -> bool:
    """Whether an error belongs to the union branch the raw value took. A union (`X | list[X]`,
    `FoldLists | str`) reports every branch's errors; only the one matching what was written matters."""
    node = raw
    for part in loc:
        label = _branch_label(node, part)
        if label == "list" and not isinstance(node, list):
            return False
        if label == "scalar" and isinstance(node, dict | list):
            return False
        if label == "model" and not isinstance(node, dict):
            return False
        if label is None:
            node = _child(node, part)
    return True


SCALAR_LABELS = {"str", "constrained-str", "int", "constrained-int", "float", "constrained-float", "bool", "none"}


def _branch_label(node: Any, part: Any) -> str | None:
    """`list`, `scalar` or `model` when `part` is pydantic's name for a union branch, not a key the user wrote."""
    if not isinstance(part, str) or (isinstance(node, dict) and part in node):
        return None
    if part.startswith("list["):
        return "list"
    if part in SCALAR_LABELS or part.startswith("literal["):
        return "scalar"
    if "[" in part or part[:1].isupper():
        return "model"
    return None


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part) if part in node or not isinstance(part, str) or part != node.get("kind") else node
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def describe(model: type[BaseModel], raw: dict[str, Any], item: dict[str, Any]) -> str:
    """One validation error as `dotted.path: what is wrong (got X, expected Y)`."""
    loc = _strip_union_tags(raw, item["loc"])
    kind, got = item["type"], item.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, raw, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"{_dotted(loc)}: unknown key ({hint}expected one of: {', '.join(allowed)})"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = item.get("ctx", {}).get("expected_tags", "") or _known_kinds()
        value = got.get("kind") if isinstance(got, dict) else got
        what = "unknown kind" if kind == "union_tag_invalid" else "missing kind"
        return f"{_dotted(loc + ('kind',))}: {what} (got {value!r}, expected one of: {expected})"
    if kind == "missing":
        return f"{_dotted(loc)}: required field is missing"
    message = item["msg"].removeprefix("Value error, ")
    if not loc and re.match(r"^[a-z_]+(\.[a-z_]+)*: ", message):  # a cross-section check names its own path
        return message
    if "(got " in message:  # our own validators already say what they got
        return f"{_dotted(loc)}: {message}"
    return f"{_dotted(loc)}: {message} (got {_short(got)})"


def _known_kinds() -> str:
    """The data kinds, for a missing `kind` (pydantic then names none)."""
    from mca_platform.config.data import DataConfig

    members = _union_models(DataConfig)
    kinds = [arg for member in members for arg in typing.get_args(member.model_fields["kind"].annotation)]
    return ", ".join(repr(kind) for kind in kinds)


def _strip_union_tags(raw: Any, loc: tuple) -> tuple:
    """Pydantic puts a discriminated union's tag in the location; users never wrote it, so drop it."""
    out: list = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part == node.get("kind") and part not in node:
            continue
        if _branch_label(node, part) is not None:
            continue  # a union branch label such as `list[...]`, `tagged-union[...]` or `FoldLists`
        out.append(part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        )
    return tuple(out)


def _fields_at(model: type[BaseModel], raw: Any, loc: tuple) -> list[str]:
    """The field names a config block at `loc` accepts (resolving discriminated unions from `raw`)."""
    current: Any = model
    node = raw
    for part in loc:
        if isinstance(part, int):  # an item of a list: follow the list's item type
            current = _list_item(current)
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        current = _resolve(current, node)
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        current = current.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
    current = _resolve(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _list_item(annotation: Any) -> Any:
    """The item type of `list[X]` (also inside a union such as `X | list[X]`)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    lists = [a for a in typing.get_args(annotation) if typing.get_origin(a) is list]
    return typing.get_args(lists[0])[0] if lists else annotation


def _resolve(annotation: Any, node: Any) -> Any:
    """The BaseModel inside an annotation, picking a union member by the raw value's `kind`."""
    members = _union_models(annotation)
    if not members:
        return annotation
    kind = node.get("kind") if isinstance(node, dict) else None
    for member in members:
        field = member.model_fields.get("kind")
        if field is not None and kind in typing.get_args(field.annotation):
            return member
    return members[0]


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    """The models of a (possibly nested, possibly Annotated) union, not those inside a list."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return []
    if typing.get_origin(annotation) is list:
        return []
    found = []
    for arg in typing.get_args(annotation):
        while typing.get_origin(arg) is typing.Annotated:
            arg = typing.get_args(arg)[0]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            found.append(arg)
        else:
            found += _union_models(arg)
    return found


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
