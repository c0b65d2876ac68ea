"""Reading a config file: safe YAML, dotted `--set` overrides, validation with one line per problem."""

from __future__ import annotations

import difflib
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
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
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


def apply_override(raw: dict[str, Any], override: str, path: str | Path) -> None:
    """Set `a.b.c=value` in `raw` in place; the value is parsed as YAML (`[0, 0.4]`, `true`, `1e-4`)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {override}: expected KEY=VALUE with a dotted key (e.g. data.sparsity=[0,0.4])")
    try:
        value = yaml.safe_load(text)
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
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        lines = [f"{source}: {describe(model, raw, item)}" for item in error.errors()]
        raise UserError(*dict.fromkeys(lines)) from None


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
        expected = item.get("ctx", {}).get("expected_tags", "")
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


def _strip_union_tags(raw: Any, loc: tuple) -> tuple:
    """Pydantic puts a discriminated union's tag in the location; users never wrote it, so drop it."""
    out: list = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part == node.get("kind") and part not in node:
            continue
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
        current = _resolve(current, node)
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        current = current.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
    current = _resolve(current, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _resolve(annotation: Any, node: Any) -> Any:
    """The BaseModel inside an annotation, picking a union member by the raw value's `kind`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    members = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if not members:
        return annotation
    kind = node.get("kind") if isinstance(node, dict) else None
    for member in members:
        field = member.model_fields.get("kind")
        if field is not None and kind in typing.get_args(field.annotation):
            return member
    return members[0]


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
