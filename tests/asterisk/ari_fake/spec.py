"""The ARI description of Asterisk 22.10.1 (Swagger 1.x) as a validator.

Every request the project sends to the fake is checked here: the operation exists, every
parameter is declared, the required ones are present, booleans are ``true``/``false``, numbers
parse, listed values are allowed. Every event the fake emits is checked against ``events.json``
(and the models it refers to in the other api-docs), recursively.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The project's shared reference data sits beside the clone (../shared), in CI as here.
SHARED = Path(__file__).resolve().parents[4] / "shared"
SEARCH = (os.environ.get("MINYI_ARI_SPEC", ""), str(SHARED / "asterisk" / "ari-22.10.1"), "/usr/share/asterisk/rest-api")


def spec_dir() -> Path | None:
    """Where ``resources.json`` and ``api-docs/`` are, or None."""
    for candidate in SEARCH:
        if not candidate:
            continue
        path = Path(candidate)
        if (path / "resources.json").is_file() and (path / "api-docs").is_dir():
            return path
    return None


@dataclass(frozen=True)
class Operation:
    nickname: str
    resource: str
    method: str
    path: str  # e.g. /channels/{channelId}/play
    pattern: re.Pattern[str]
    literal_segments: int
    params: dict[str, dict[str, Any]]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.pattern.fullmatch(path)
        return m.groupdict() if m else None


@dataclass
class AriSpec:
    directory: Path
    resources: dict[str, Any]
    docs: dict[str, dict[str, Any]]  # resource name -> api declaration
    operations: list[Operation] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> AriSpec:
        resources = json.loads((directory / "resources.json").read_text())
        docs = {}
        for api in resources["apis"]:
            name = Path(api["path"]).name.replace(".{format}", "")
            docs[name] = json.loads((directory / "api-docs" / f"{name}.json").read_text())
        spec = cls(directory, resources, docs)
        for name, doc in docs.items():
            spec.models.update(doc.get("models", {}))
            for api in doc["apis"]:
                for op in api["operations"]:
                    spec.operations.append(_operation(name, api["path"], op))
        # Literal path segments win over {wildcards}, as in Asterisk's own path tree.
        spec.operations.sort(key=lambda o: -o.literal_segments)
        return spec

    # -- requests ---------------------------------------------------------------------------

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            args = op.match(method, path)
            if args is not None:
                return op, args
        return None

    def check_request(self, method: str, path: str, query: dict[str, str],
                      body: dict[str, Any] | None) -> tuple[Operation | None, list[str]]:
        """The operation and every way the request breaks the description."""
        found = self.find(method, path)
        if found is None:
            return None, [f"{method} {path}: no such ARI operation"]
        op, path_args = found
        where = f"{op.resource}.{op.nickname}"
        problems = [f"{where}: path parameter {k} is empty" for k, v in path_args.items() if not v]
        for name, value in query.items():
            param = op.params.get(name)
            if name == "api_key":
                continue
            if param is None or param["paramType"] != "query":
                problems.append(f"{where}: unknown query parameter {name!r}")
                continue
            problems += [f"{where}: {p}" for p in _check_value(param, value)]
        # "Other keys in the body object are interpreted as query parameters" (channels.json).
        for key in (body or {}):
            if key not in op.params or op.params[key]["paramType"] == "path":
                problems.append(f"{where}: unknown body field {key!r}")
        for name, param in op.params.items():
            if not param.get("required"):
                continue
            kind = param["paramType"]
            present = (name in path_args) if kind == "path" else (name in query) if kind == "query" \
                else name in (body or {})
            if not present:
                problems.append(f"{where}: required {kind} parameter {name!r} missing")
        return op, problems

    # -- events -----------------------------------------------------------------------------

    def check_event(self, event: dict[str, Any]) -> list[str]:
        """Every way ``event`` differs from what events.json declares for its type."""
        kind = event.get("type")
        if not isinstance(kind, str) or kind not in self.models:
            return [f"event type {kind!r} is not declared"]
        if kind not in self.models["Event"]["subTypes"]:
            return [f"{kind} is not an Event subtype"]
        problems = self.check_model("Message", event, kind, extra_ok=True)
        problems += self.check_model("Event", event, kind, extra_ok=True)
        declared = set(self.models["Message"]["properties"]) | set(self.models["Event"]["properties"])
        problems += self.check_model(kind, event, kind, extra_ok=True)
        declared |= set(self.models[kind]["properties"])
        problems += [f"{kind}: field {k!r} is not declared" for k in event if k not in declared]
        return problems

    def check_model(self, model: str, value: Any, where: str, *, extra_ok: bool = False) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: {model} is not an object"]
        props = self.models[model]["properties"]
        problems = [f"{where}: {model}.{name} is required"
                    for name, prop in props.items() if prop.get("required") and name not in value]
        for name, item in value.items():
            prop = props.get(name)
            if prop is None:
                if not extra_ok:
                    problems.append(f"{where}: {model}.{name} is not declared")
                continue
            problems += self._check_type(prop["type"], item, f"{where}.{name}")
            allowed = prop.get("allowableValues", {})
            if allowed.get("valueType") == "LIST" and item not in allowed["values"]:
                problems.append(f"{where}.{name}: {item!r} not in {allowed['values']}")
        return problems

    def _check_type(self, kind: str, value: Any, where: str) -> list[str]:
        m = re.fullmatch(r"List\[(.+)\]", kind)
        if m:
            if not isinstance(value, list):
                return [f"{where}: expected a list"]
            return [p for i, v in enumerate(value) for p in self._check_type(m.group(1), v, f"{where}[{i}]")]
        if kind in self.models:
            return self.check_model(kind, value, where)
        ok = {
            "string": lambda v: isinstance(v, str),
            "Date": lambda v: isinstance(v, str) and bool(_DATE.fullmatch(v)),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
        }.get(kind)
        if ok is None:
            return [f"{where}: unknown type {kind}"]
        return [] if ok(value) else [f"{where}: {value!r} is not a {kind}"]


_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}")


def _operation(resource: str, path: str, op: dict[str, Any]) -> Operation:
    segments = path.strip("/").split("/")
    regex = "/" + "/".join(f"(?P<{s[1:-1]}>[^/]*)" if s.startswith("{") else re.escape(s) for s in segments)
    literal = sum(1 for s in segments if not s.startswith("{"))
    params = {p["name"]: p for p in op.get("parameters", [])}
    return Operation(op["nickname"], resource, op["httpMethod"], path, re.compile(regex), literal, params)


def _check_value(param: dict[str, Any], raw: str) -> list[str]:
    name = param["name"]
    values = raw.split(",") if param.get("allowMultiple") else [raw]
    problems = []
    for value in values:
        kind = param.get("dataType")
        if kind == "boolean" and value not in ("true", "false"):
            problems.append(f"{name}={value!r}: booleans must be 'true' or 'false'")
        if kind in ("int", "long"):
            try:
                number = int(value)
            except ValueError:
                problems.append(f"{name}={value!r}: not an integer")
                continue
            allowed = param.get("allowableValues", {})
            if allowed.get("valueType") == "RANGE" and not (
                    allowed.get("min", number) <= number <= allowed.get("max", number)):
                problems.append(f"{name}={number} outside {allowed}")
        allowed = param.get("allowableValues", {})
        if allowed.get("valueType") == "LIST" and value not in allowed["values"]:
            problems.append(f"{name}={value!r} not in {allowed['values']}")
    return problems
