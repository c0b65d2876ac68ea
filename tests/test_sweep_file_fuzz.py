"""Property: whatever a careless edit does to sweeps/demo.yaml (keys deleted, types changed, random values,
unknown keys), `python -m mca_platform.sweep FILE --plan` answers with a plan or with error lines (exit 2),
never a traceback. Runs the CLI's main in-process (what `python -m` runs) with captured output."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mca_platform.errors import run_cli
from mca_platform.sweep.__main__ import main

DEMO = yaml.safe_load((Path(__file__).resolve().parent.parent / "sweeps" / "demo.yaml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from([0, 1, -1, 0.4, 0.4000001, 1e300, "mca", "tables", "csd", "random", "by_group", "[0, 1]"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)


def paths(node, prefix=()):
    """Every key path of the nested mapping (lists by index)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        yield prefix + (key,)
        yield from paths(child, prefix + (key,))


ALL_PATHS = list(paths(DEMO))


@st.composite
def mutated(draw):
    raw = yaml.safe_load(yaml.safe_dump(DEMO))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        node = raw
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if not isinstance(node, dict):
            continue
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            node.pop(path[-1], None)
        elif action == "replace":
            node[path[-1]] = draw(values)
        else:
            node[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(raw=mutated())
def test_plan_never_prints_a_traceback(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run_cli(main, [str(path), "--plan"])
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text and "internal error" not in text, text
    assert status in (0, 2), text
    if status == 2:
        lines = err.getvalue().strip().splitlines()
        assert lines and all(line.strip() for line in lines), text


def test_the_unmutated_demo_plans():
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in DEMO.values())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_cli(main, [str(Path(__file__).resolve().parent.parent / "sweeps" / "demo.yaml"), "--plan"]) == 0
    assert "cells" in out.getvalue()
