"""Reading a protocol file: YAML with line numbers, the schema, conditions tables, stimulus files.

:func:`load_protocol` returns a :class:`~protocols.model.Protocol` or raises :class:`ProtocolError`
with one message naming the file, the line and the field. A protocol is only accepted once every
trial of every counterbalancing group has been expanded (:func:`protocols.check.check_protocol`):
every ``{variable}`` is defined, every number is a number and every stimulus file exists and can be
decoded. The model itself is in :mod:`protocols.model`, conditions tables in
:mod:`protocols.conditions`.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml

from protocols import schema
from protocols.check import check_protocol
from protocols.conditions import MAX_FILE_BYTES, read_conditions
from protocols.errors import ProtocolError, field_path, where
from protocols.model import (
    DEFAULT_EMOTIONS,
    DEFAULT_SCREEN,
    Block,
    Conditions,
    Protocol,
    Step,
)

__all__ = ["Block", "Conditions", "Protocol", "Step", "load_protocol", "read_yaml"]


# ------------------------------------------------------------------------------------------------
def _yaml_lines(node, parts=(), out=None) -> dict:
    """The 1-based line of every key and item of a composed YAML document, by field path."""
    out = {} if out is None else out
    out.setdefault(parts, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = parts + (key.value,)
            out[k] = key.start_mark.line + 1
            _yaml_lines(value, k, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, parts + (i,), out)
    return out


MAX_NODES = 200_000  # values once YAML aliases are expanded (an alias bomb has billions)


def _expanded_size(node, memo: dict) -> int:
    """How many values ``node`` stands for with every alias expanded (linear in the node graph)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a cycle counts once
    if isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        n = 1
    memo[key] = min(n, 10**15)
    return memo[key]


def read_yaml(path: Path) -> tuple[object, dict]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProtocolError(
                f"{path}: {size / 2**20:.1f} MB is far more than a protocol file holds "
                f"(limit {MAX_FILE_BYTES >> 20} MB); not read"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError(f"{path}: no such protocol file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot be read ({exc})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            n = _expanded_size(node, {})
            if n > MAX_NODES:
                raise ProtocolError(
                    f"{path}: its YAML aliases (*name) expand to {n:,} values, more than "
                    f"a protocol can hold ({MAX_NODES:,}); not loaded"
                )
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ProtocolError(f"{path}: nested too deeply to be a protocol file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProtocolError(f"{path}{line}: not valid YAML: {problem}") from None
    return data, (_yaml_lines(node) if node is not None else {})


def _message(err: jsonschema.ValidationError) -> str:
    s = err.schema if isinstance(err.schema, dict) else {}
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(s.get("properties", {})))
        allowed = ", ".join(s.get("properties", {}))
        return f"unknown field '{extra[0]}' (allowed here: {allowed})"
    if v == "required":
        return f"missing field {err.message.split(' is a required')[0]}"
    if "x-message" in s and v not in ("required", "additionalProperties"):
        return f"{_show(err.instance)} {s['x-message']}"
    if v == "enum":
        return f"{_show(err.instance)} is not one of: {', '.join(map(str, err.validator_value))}"
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        names = {
            "object": "a mapping",
            "array": "a list",
            "string": "text",
            "number": "a number",
            "integer": "a whole number",
            "boolean": "true or false",
            "null": "empty",
        }
        want = " or ".join(names.get(w, w) for w in want.split(" or "))
        return f"{_show(err.instance)} must be {want}"
    if v in ("minimum", "exclusiveMinimum", "maximum", "minItems", "minLength", "uniqueItems", "const", "pattern"):
        return err.message.replace("is too short", "must not be empty")
    return err.message


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "...'"


def _validate(instance, sch: dict, path: Path, lines: dict, prefix=()) -> None:
    validator = jsonschema.Draft202012Validator(sch)
    errors = list(validator.iter_errors(instance))
    if not errors:
        return
    err = min(errors, key=lambda e: (_line(lines, prefix + tuple(e.absolute_path)) or 0, -len(e.absolute_path)))
    parts = prefix + tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        parts = parts + (extra[0],)
    raise ProtocolError(f"{where(path, _line(lines, parts), field_path(parts) or None)}: {_message(err)}")


def _line(lines: dict, parts: tuple) -> int | None:
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return lines.get(())


# ------------------------------------------------------------------------------------------------
def load_protocol(path: Path | str, *, check: bool = True) -> Protocol:
    """Read, validate and (with ``check``) fully expand and check a protocol file."""
    path = Path(path)
    data, lines = read_yaml(path)
    if data is None:
        raise ProtocolError(f"{path}: the file is empty (a protocol starts with 'format: {schema.FORMAT}')")
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}, line 1: a protocol file is a mapping of fields, not {_show(data)}")
    _validate(data, schema.PROTOCOL, path, lines)
    for parts, step in _all_steps(data):
        if not isinstance(step, dict) or "type" not in step:
            loc = where(path, _line(lines, parts), field_path(parts))
            raise ProtocolError(f"{loc}: {schema.STEP['x-message-type']}")
        _validate(step, schema.step_schema(step["type"]), path, lines, parts)
        _check_step(step, path, _line(lines, parts), field_path(parts))
    proto = _build(data, path, lines, make_demo=check)
    if check:
        check_protocol(proto)
    return proto


def _all_steps(data: dict):
    for bi, block in enumerate(data["blocks"]):
        for key in ("before", "after"):
            for si, step in enumerate(block.get(key, [])):
                yield ("blocks", bi, key, si), step
        for si, step in enumerate(block.get("trials", {}).get("steps", [])):
            yield ("blocks", bi, "trials", "steps", si), step


def _check_step(step: dict, path: Path, line: int | None, fpath: str) -> None:
    """Rules a schema says badly: what a stimulus shows and how long."""
    if step["type"] == "stimulus":
        shown = [k for k in ("video", "image", "text") if k in step]
        if len(shown) != 1:
            what = "none" if not shown else " and ".join(shown)
            raise ProtocolError(
                f"{where(path, line, fpath)}: a stimulus step shows exactly one of video, image or text (found {what})"
            )
        if "until" in step and "video" not in step:
            raise ProtocolError(f"{where(path, line, fpath + '.until')}: 'until: end' is only for a video")
        if "video" not in step and "duration" not in step:
            raise ProtocolError(f"{where(path, line, fpath)}: an image or text stimulus needs a 'duration' in seconds")
    if step["type"] == "instructions" and "text" not in step and "image" not in step:
        raise ProtocolError(f"{where(path, line, fpath)}: instructions need a 'text' or an 'image'")
    if step["type"] == "act" and step.get("advance") == "time" and "duration" not in step:
        raise ProtocolError(f"{where(path, line, fpath)}: 'advance: time' needs a 'duration' in seconds")


def _build(data: dict, path: Path, lines: dict, make_demo: bool = True) -> Protocol:
    name = data.get("name") or re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-") or "protocol"
    proto = Protocol(
        name=name,
        path=path.resolve(),
        title=data.get("title", name),
        description=data.get("description", ""),
        version=str(data.get("version", "")),
        demo_stimuli=bool(data.get("demo_stimuli", False)),
        screen={**DEFAULT_SCREEN, **data.get("screen", {})},
        emotions=list(data.get("emotions", DEFAULT_EMOTIONS)),
        variables=dict(data.get("variables", {})),
        groups=list(data.get("groups", [])),
        block_order=data.get("block_order", "fixed"),
        lines=lines,
    )
    if proto.demo_stimuli:
        from protocols.demo_stimuli import demo_folder

        # only a checked load (to run or validate) makes the clips; listing needs the title alone
        proto.stimuli = demo_folder(make=make_demo)
    else:
        proto.stimuli = (proto.folder / data.get("stimuli", "stimuli")).resolve()
    seen = {}
    for bi, b in enumerate(data["blocks"]):
        bpath = ("blocks", bi)
        if b["id"] in seen:
            raise ProtocolError(
                f"{where(path, _line(lines, bpath + ('id',)), field_path(bpath + ('id',)))}: "
                f"block id '{b['id']}' is used twice (also at line {seen[b['id']]})"
            )
        seen[b["id"]] = _line(lines, bpath)

        def steps(key_parts, items):
            return [
                Step(s["type"], s, _line(lines, key_parts + (i,)), field_path(key_parts + (i,)))
                for i, s in enumerate(items)
            ]

        block = Block(
            id=b["id"],
            title=b.get("title", b["id"]),
            line=_line(lines, bpath),
            path=field_path(bpath),
            repeat=b.get("repeat", 1),
            variables=dict(b.get("variables", {})),
            before=steps(bpath + ("before",), b.get("before", [])),
            after=steps(bpath + ("after",), b.get("after", [])),
        )
        t = b.get("trials")
        if t:
            block.trial_steps = steps(bpath + ("trials", "steps"), t["steps"])
            block.order = t.get("order", "fixed")
            block.trial_repeat = t.get("repeat", 1)
            cond = t.get("conditions")
            cpath = bpath + ("trials", "conditions")
            if isinstance(cond, list):
                block.conditions = Conditions(
                    [dict(r) for r in cond], str(path), [_line(lines, cpath + (i,)) for i in range(len(cond))]
                )
            elif isinstance(cond, str):
                if "{" in cond:
                    block.conditions_template = cond
                else:
                    block.conditions = read_conditions(
                        proto.folder / cond, path, _line(lines, cpath), field_path(cpath)
                    )
        proto.blocks.append(block)
    gids = [g["id"] for g in proto.groups]
    if len(set(gids)) != len(gids):
        dup = next(g for g in gids if gids.count(g) > 1)
        raise ProtocolError(f"{where(path, _line(lines, ('groups',)), 'groups')}: group id '{dup}' is used twice")
    return proto
