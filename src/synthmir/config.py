"""The configuration schema (config/config.schema.yaml): checking, defaults, readable errors.

The schema is the one place where a default lives. :func:`complete` checks one section
against it and fills in every default; library functions, the command line, tests and
benchmarks call it for the sections they are given, and the Snakefile gets whole configs
completed through :func:`synthmir.config_checks.prepare`. Every problem is a
:class:`~synthmir.errors.ConfigError` that names the key path, says what is wrong and how to
fix it, in one line.

Imported by the Snakefile at parse time, so it stays light: no numpy, no TensorFlow.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from synthmir.errors import ConfigError, SynthmirError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "config.schema.yaml"
# Enumerations longer than this are cut short in messages.
_SHOWN_CHOICES = 12
_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "text",
               "boolean": "true or false", "array": "a list", "object": "a mapping of keys",
               "null": "null"}
_BOUNDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "above",
           "exclusiveMaximum": "below"}


@functools.cache
def schema() -> dict:
    """The parsed schema (shared: do not change it)."""
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def default(definition: str, key: str) -> Any:
    """The schema's default of key ``key`` of ``$defs[definition]`` (a copy)."""
    return copy.deepcopy(schema()["$defs"][definition]["properties"][key]["default"])


def _filling_defaults(cls: type) -> type:
    """``cls`` extended to fill in every missing key that has a ``default`` as it validates.

    Defaults are copied, so the schema's own values are never shared or changed. A kind's
    defaults sit in its ``if``/``then`` branch, which runs after the section's own
    ``properties`` (those come first in every section) have filled in the kind.
    """
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, node):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if key not in instance and isinstance(sub, dict) and "default" in sub:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, node)

    # A whole number is an int: JSON Schema would take 36.0, which range() and numpy would not.
    types = cls.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    return jsonschema.validators.extend(cls, {"properties": properties}, type_checker=types)


@functools.cache
def _validator(definition: str | None) -> jsonschema.protocols.Validator:
    root = schema()
    target = root if definition is None else {"$defs": root["$defs"],
                                              "$ref": f"#/$defs/{definition}"}
    return _filling_defaults(jsonschema.Draft202012Validator)(target)


def complete(definition: str, entry: dict | None = None, key: str = "") -> dict:
    """A section checked against the schema's ``$defs`` entry ``definition``, defaults filled in.

    Parameters
    ----------
    definition : str
        A section of ``$defs``: ``dataset``, ``programs``, ``synth``, ``split``,
        ``features``, ``model``, ``architecture`` or ``training``.
    entry : dict, optional
        The section as given (not changed); None or {} gives the defaults.
    key : str
        Where the section sits in the config (e.g. ``datasets.notes``), for messages.

    Returns
    -------
    dict
        A new, complete section.

    Raises
    ------
    ConfigError
        On the first problem found.
    """
    value = {} if entry is None else copy.deepcopy(entry)
    check_plain(value, key)
    check(definition, value, key)
    return value


def check(definition: str | None, value: Any, key: str = "") -> None:
    """Check ``value`` in place against ``$defs[definition]`` (None: the whole config),
    filling in defaults; raise the first problem as a :class:`ConfigError`."""
    for error in _validator(definition).iter_errors(value):
        raise _config_error(error, key)


def _key(*parts: Any) -> str:
    """A key path: names joined by dots, list positions in brackets (``filters[1]``)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "":
            out = f"{out}.{part}" if out else str(part)
    return out


def check_plain(value: Any, key: str = "") -> None:
    """Refuse what JSON Schema cannot see: names that are not text and non-finite numbers.

    YAML reads ``1:`` and ``yes:`` as a number and a boolean, and ``.nan`` and ``.inf`` as
    floats that pass every numeric bound.
    """
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                kind = ("a boolean" if isinstance(name, bool) else "a number"
                        if isinstance(name, int | float) else f"a {type(name).__name__}")
                fix = ("Quote the name (YAML reads yes, no, on and off as booleans)."
                       if isinstance(name, bool) else f"Quote it: '{name}':")
                raise ConfigError(_key(key, str(name)), f"the name {name} is read as {kind}, "
                                  "not as text", fix)
            check_plain(item, _key(key, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain(item, _key(key, index))
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, f"{value} is not a finite number",
                          "Give a finite value (YAML reads .nan and .inf as NaN and infinity).")
    elif value is not None and not isinstance(value, str | int | float):
        raise ConfigError(key, f"{value} is read as a {type(value).__name__}, not a plain value",
                          "Quote it to make it text.")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value, separators=(", ", ": "))


def _describe(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _show(value)
    words = {str: "text", int: "the number", float: "the number", list: "the list",
             dict: "a mapping"}
    return f"{words.get(type(value), type(value).__name__)} {_show(value)}"


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".")


def _choices(options: Iterable[Any]) -> str:
    options = [str(o) for o in options]
    if len(options) <= _SHOWN_CHOICES:
        return ", ".join(options)
    return f"{', '.join(options[:_SHOWN_CHOICES])}, ... ({len(options)} in all)"


def _suggest(name: Any, known: Iterable[Any], what: str = "keys") -> str:
    """'Did you mean ...?' for the closest of ``known``, else the list of them."""
    known = [str(k) for k in known]
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        return f"Did you mean '{close[0]}'?"
    return f"Known {what} here: {_choices(known)}." if known else "Remove it."


@functools.cache
def _kind_branches() -> dict[int, tuple[str, dict[str, list[str]]]]:
    """Every kind's ``then`` branch (by id): its kind and the options of every kind there."""
    found: dict[int, tuple[str, dict[str, list[str]]]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kinds = {b["if"]["properties"]["kind"]["const"]: b["then"]
                     for b in node.get("allOf", ())
                     if "kind" in b.get("if", {}).get("properties", {})}
            options = {k: [o for o in then.get("properties", {}) if o != "kind"]
                       for k, then in kinds.items()}
            found.update({id(then): (kind, options) for kind, then in kinds.items()})
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema())
    return found


def _config_error(err: jsonschema.ValidationError, where: str) -> ConfigError:
    """One readable line for a schema violation."""
    key = _key(where, *err.absolute_path)
    value, node, keyword, rule = err.instance, err.schema, err.validator, err.validator_value
    meaning = node.get("description", "") if isinstance(node, dict) else ""
    about = f" ({_first_sentence(meaning)})" if meaning else ""
    if "propertyNames" in err.absolute_schema_path:
        if key.endswith("sweep"):
            return ConfigError(_key(key, value), "not a parameter path",
                               "Name a key path such as training.learning_rate.")
        return ConfigError(_key(key, value), f"'{value}' cannot name an entry (it names a "
                           "folder)", "Use letters, digits, _ . and -, starting with a letter, "
                           "digit or _.")
    if keyword == "additionalProperties":
        allowed = list(node.get("properties", {}))
        name = next(k for k in value if k not in allowed)
        branch = _kind_branches().get(id(node))
        if branch:
            kind, options = branch
            own = f"Options of {kind}: {', '.join(options[kind]) or 'none'}."
            elsewhere = [k for k, names in options.items() if name in names]
            if elsewhere:
                return ConfigError(_key(key, name), f"kind {kind} has no option '{name}' (an "
                                   f"option of {', '.join(elsewhere)})", f"Remove it. {own}")
            close = _suggest(name, options[kind])
            return ConfigError(_key(key, name), f"unknown option of kind {kind}",
                               close if close.startswith("Did") else own)
        return ConfigError(_key(key, name), "unknown key", _suggest(name, allowed))
    if keyword == "required":
        missing = next(k for k in rule if k not in value)
        meaning = node.get("properties", {}).get(missing, {}).get("description")
        return ConfigError(_key(key, missing), "required key missing",
                           f"Add it ({_first_sentence(meaning)})." if meaning else "Add it.")
    if keyword == "type":
        wanted = [rule] if isinstance(rule, str) else rule
        problem = f"expected {' or '.join(_TYPE_WORDS[w] for w in wanted)}, got {_describe(value)}"
        fix = f"Fix the value{about}."
        if isinstance(value, str) and {"number", "integer"} & set(wanted):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                fix = f"YAML reads {value} as text: write {number!r} (a number has a dot)."
        elif isinstance(value, float) and value.is_integer() and "integer" in wanted:
            fix = f"Write {int(value)}."
        return ConfigError(key, problem, fix)
    if keyword == "enum":
        close = _suggest(value, rule, "values")
        fix = close if close.startswith("Did") else f"Choose one of: {_choices(rule)}."
        return ConfigError(key, f"unknown value {_show(value)}", fix)
    if keyword == "const":
        return ConfigError(key, f"{_show(value)} is not {_show(rule)}",
                           f"Write {_show(rule)}, or give a list.")
    if keyword in _BOUNDS:
        return ConfigError(key, f"{_show(value)} is out of range",
                           f"Use a value {_BOUNDS[keyword]} {rule}{about}.")
    if keyword in ("minItems", "minProperties", "minLength"):
        return ConfigError(key, "is empty" if rule == 1 else f"needs at least {rule} items",
                           f"Give at least {rule}{about}.")
    if keyword == "uniqueItems":
        return ConfigError(key, f"{_show(value)} repeats an item", "List each item once.")
    if keyword == "not":
        return ConfigError(key, f"does not apply here: {node.get('description', '')}",
                           "Remove it.")
    return ConfigError(key, err.message, "See config/config.schema.yaml.")


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake compares a job's params with the recorded ones as text, so two configs that
    differ only in key order would otherwise rerun everything.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (YAML keeps the last)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
            continue
        name = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(name, key_node.start_mark.line)
        except TypeError:  # an unhashable key: construct_mapping says what is wrong
            break
        if first != key_node.start_mark.line:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {name!r} is given twice (first on line {first + 1})",
                key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file; a syntax error or a repeated key names the file, line and column.

    Raises
    ------
    SynthmirError
        ``FILE, line L, column C: problem. Fix``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SynthmirError(f"config error: cannot read {path} ({exc.__class__.__name__}). "
                            "Check the path.") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        fix = ("Indent with spaces, not tabs." if "\\t" in problem
               else "Fix the YAML there (a common cause: a missing space after ':').")
        if "given twice" in problem:
            fix = "Keep one of them."
        raise SynthmirError(f"config error in {path}, line {mark.line + 1}, column "
                            f"{mark.column + 1}: {problem}. {fix}") from None
    except yaml.YAMLError as exc:
        raise SynthmirError(f"config error in {path}: {exc}. Fix the YAML.") from None
