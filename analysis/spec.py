"""The index specification (SPEC.yaml, see design.md "Flat-file analysis"): loading and validation.

```yaml
indices:
  safety:       {question: q_safety, kind: share, favourable: [1, 2, 3], exclude: [8, 9]}
  safety_score: {question: q_safety, kind: score, scores: {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
                 exclude: [8, 9]}
  justice:      {kind: composite, components: {police: 0.4, courts: 0.3, procuratorate: 0.3}}
integrity:                      # optional
  straightlining: [q_police, q_courts, q_procuratorate, q_justice]
  jump_z: 4
```

A share index may also list ``valid`` codes (then any other code is an input error); without it every
code that is not excluded is in the base. A composite is a weighted sum of other indices of one kind
(weights normalised to sum 1); each component keeps its own valid base.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from analysis.errors import InputError, SpecError

Code = float


@dataclass(frozen=True)
class ShareIndex:
    name: str
    question: str
    favourable: frozenset[Code]
    exclude: frozenset[Code]
    valid: frozenset[Code] | None = None
    kind: str = "share"


@dataclass(frozen=True)
class ScoreIndex:
    name: str
    question: str
    scores: Mapping[Code, float]
    exclude: frozenset[Code]
    kind: str = "score"


@dataclass(frozen=True)
class CompositeIndex:
    name: str
    components: tuple[tuple[str, float], ...]  # (index name, weight), weights sum to 1
    kind: str  # the kind of its components


Index = ShareIndex | ScoreIndex | CompositeIndex


@dataclass(frozen=True)
class IntegritySpec:
    straightlining: tuple[str, ...] = ()
    jump_z: float = 4.0


@dataclass(frozen=True)
class Spec:
    indices: tuple[Index, ...]
    integrity: IntegritySpec = IntegritySpec()

    def questions(self) -> list[str]:
        """Answer columns the indices and checks read, in first-use order."""
        names = [i.question for i in self.indices if not isinstance(i, CompositeIndex)]
        names += list(self.integrity.straightlining)
        return list(dict.fromkeys(names))


def load_spec(path: Path) -> Spec:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the spec: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from exc
    return parse_spec_text(text, source=str(path))


def parse_spec_text(text: str, source: str = "spec") -> Spec:
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {exc.problem}", file=source, line=line) from exc
    except YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=source) from exc
    return parse_spec(data, source)


def parse_spec(data: object, source: str = "spec") -> Spec:
    top = _mapping(data, source, "the top level")
    # headline, names and population_source say how a bulletin shows the indices (docs/formats.md); the
    # analysis ignores them
    _only_keys(top, {"indices", "integrity", "headline", "names", "population_source"}, source, "the top level")
    raw = _mapping(top.get("indices"), source, "'indices'")
    if not raw:
        raise SpecError(f"{source}: 'indices' is empty")
    simple: dict[str, Index] = {}
    composites: dict[str, Mapping[object, object]] = {}
    for name, body in raw.items():
        where = f"indices.{name}"
        entry = _mapping(body, source, where)
        kind = entry.get("kind")
        if kind == "share":
            simple[str(name)] = _share(str(name), entry, source, where)
        elif kind == "score":
            simple[str(name)] = _score(str(name), entry, source, where)
        elif kind == "composite":
            composites[str(name)] = entry
        else:
            raise SpecError(f"{source}: {where}.kind must be share, score or composite, not {kind!r}")
    built = dict(simple)
    for name, entry in composites.items():
        built[name] = _composite(name, entry, simple, source)
    ordered = tuple(built[str(name)] for name in raw)
    integrity = _integrity(top.get("integrity"), source)
    return Spec(indices=ordered, integrity=integrity)


def _share(name: str, entry: Mapping[object, object], source: str, where: str) -> ShareIndex:
    _only_keys(entry, {"kind", "question", "favourable", "exclude", "valid"}, source, where)
    favourable = _codes(entry.get("favourable"), source, f"{where}.favourable", required=True)
    exclude = _codes(entry.get("exclude", []), source, f"{where}.exclude")
    if favourable & exclude:
        raise SpecError(f"{source}: {where}: codes {_fmt(favourable & exclude)} are both favourable "
                        "and excluded")
    valid = None
    if "valid" in entry:
        valid = _codes(entry["valid"], source, f"{where}.valid", required=True)
        if not favourable <= valid:
            raise SpecError(f"{source}: {where}: favourable codes {_fmt(favourable - valid)} "
                            "are not in 'valid'")
        if valid & exclude:
            raise SpecError(f"{source}: {where}: codes {_fmt(valid & exclude)} are both valid and excluded")
    return ShareIndex(name, _question(entry, source, where), favourable, exclude, valid)


def _score(name: str, entry: Mapping[object, object], source: str, where: str) -> ScoreIndex:
    _only_keys(entry, {"kind", "question", "scores", "exclude"}, source, where)
    raw = _mapping(entry.get("scores"), source, f"{where}.scores")
    if not raw:
        raise SpecError(f"{source}: {where}.scores is empty")
    scores = {_number(k, source, f"{where}.scores"): _number(v, source, f"{where}.scores.{k}")
              for k, v in raw.items()}
    exclude = _codes(entry.get("exclude", []), source, f"{where}.exclude")
    if set(scores) & exclude:
        raise SpecError(f"{source}: {where}: codes {_fmt(set(scores) & exclude)} are both scored "
                        "and excluded")
    return ScoreIndex(name, _question(entry, source, where), scores, exclude)


def _composite(name: str, entry: Mapping[object, object], simple: Mapping[str, Index],
               source: str) -> CompositeIndex:
    where = f"indices.{name}"
    _only_keys(entry, {"kind", "components"}, source, where)
    raw = _mapping(entry.get("components"), source, f"{where}.components")
    if len(raw) < 2:
        raise SpecError(f"{source}: {where}.components needs at least two indices")
    parts: list[tuple[str, float]] = []
    for part, weight in raw.items():
        if str(part) not in simple:
            raise SpecError(f"{source}: {where}.components: {part!r} is not a share or score index "
                            "of this spec")
        value = _number(weight, source, f"{where}.components.{part}")
        if value <= 0:
            raise SpecError(f"{source}: {where}.components.{part}: weight must be positive")
        parts.append((str(part), value))
    kinds = {simple[p].kind for p, _ in parts}
    if len(kinds) > 1:
        raise SpecError(f"{source}: {where}: components mix shares and scores")
    total = sum(w for _, w in parts)
    return CompositeIndex(name, tuple((p, w / total) for p, w in parts), kinds.pop())


def _integrity(data: object, source: str) -> IntegritySpec:
    if data is None:
        return IntegritySpec()
    entry = _mapping(data, source, "integrity")
    _only_keys(entry, {"straightlining", "jump_z"}, source, "integrity")
    items = entry.get("straightlining", [])
    if not isinstance(items, list) or any(not isinstance(q, str) for q in items) or len(items) == 1:
        raise SpecError(f"{source}: integrity.straightlining must list two or more question columns")
    jump_z = _number(entry.get("jump_z", 4.0), source, "integrity.jump_z")
    if jump_z <= 0:
        raise SpecError(f"{source}: integrity.jump_z must be positive")
    return IntegritySpec(tuple(items), jump_z)


def _question(entry: Mapping[object, object], source: str, where: str) -> str:
    question = entry.get("question")
    if not isinstance(question, str) or not question:
        raise SpecError(f"{source}: {where}.question must name an answer column")
    return question


def _codes(value: object, source: str, where: str, *, required: bool = False) -> frozenset[Code]:
    if not isinstance(value, list) or (required and not value):
        raise SpecError(f"{source}: {where} must be a {'non-empty ' if required else ''}list of "
                        "numeric codes")
    return frozenset(_number(v, source, where) for v in value)


def _number(value: object, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{source}: {where}: {value!r} is not a number")
    return float(value)


def _mapping(value: object, source: str, where: str) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise SpecError(f"{source}: {where} must be a mapping")
    return value


def _only_keys(entry: Mapping[object, object], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        raise SpecError(f"{source}: {where}: unknown key(s) {', '.join(unknown)}")


def _fmt(codes: set[Code] | frozenset[Code]) -> str:
    return "[" + ", ".join(f"{c:g}" for c in sorted(codes)) + "]"
