"""Read models.toml into ModelSpecs, checking every field; a mistake names the entry and the field."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwenvid.catalogue.spec import (
    INSTRUCT,
    MODES,
    PATHS,
    USAGE_STYLES,
    VACE_FUNCTIONS,
    AudioLimits,
    DurationRule,
    ImageLimits,
    InputLimits,
    ModelSpec,
    ReferenceLimits,
    VideoLimits,
    sizes_for,
)

DATA_FILE = Path(__file__).with_name("models.toml")
SCHEMA = 1
MB = 1024 * 1024

_LIMIT_TYPES: dict[str, type] = {"image": ImageLimits, "video": VideoLimits, "audio": AudioLimits}
# InputLimits slot -> which named limits table it takes.
_SLOT_KINDS = {
    "image": "image",
    "video": "video",
    "clip": "video",
    "audio": "audio",
    "voice": "audio",
    "reference_video": "video",
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "mode": MODES,
    "endpoint": tuple(PATHS),
    "protocol": ("legacy", "media", "wan3"),
    "resolution_field": ("size", "resolution", "resolution+ratio"),
    "audio": ("silent", "always", "toggle"),
    "usage_style": tuple(USAGE_STYLES),
}
# Entry keys that are not ModelSpec fields: how an entry is written, not what it is.
_SPELLING_KEYS = {"use", "size_tiers"}


class CatalogueError(ValueError):
    """The data file contradicts its schema or itself."""


@dataclass(frozen=True)
class Catalogue:
    """The loaded data: models in file order, every id and alias, the defaults and the named limits."""

    models: tuple[ModelSpec, ...]
    by_id: Mapping[str, ModelSpec]
    mode_defaults: Mapping[str, str]
    limits: Mapping[tuple[str, str], object]


def load(path: Path = DATA_FILE) -> Catalogue:
    """Parse and check a catalogue file (the shipped one unless a test names another)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path.name}: cannot read the model catalogue: {exc}") from exc
    where = path.name
    if data.get("schema") != SCHEMA:
        raise CatalogueError(f"{where}: schema must be {SCHEMA}, found {data.get('schema')!r}")
    unknown = set(data) - {"schema", "mode_defaults", "limits", "presets", "models"}
    if unknown:
        raise CatalogueError(f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    limits = _named_limits(where, _table(data.get("limits", {}), f"{where}: [limits]"))
    presets = _table(data.get("presets", {}), f"{where}: [presets]")
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise CatalogueError(f"{where}: [[models]] must list at least one model")
    models = tuple(_model(where, entry, presets, limits) for entry in raw_models)
    by_id: dict[str, ModelSpec] = {}
    for spec in models:
        for model_id in spec.all_ids():
            if model_id in by_id:
                raise CatalogueError(f"{where}: model id {model_id!r} appears twice ({by_id[model_id].id}, {spec.id})")
            by_id[model_id] = spec
    defaults = _mode_defaults(where, data.get("mode_defaults"), by_id)
    return Catalogue(models=models, by_id=by_id, mode_defaults=defaults, limits=limits)


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogueError(f"{where} must be a table")
    return value


def _named_limits(where: str, tables: dict[str, Any]) -> dict[tuple[str, str], object]:
    named: dict[tuple[str, str], object] = {}
    for kind, entries in tables.items():
        if kind not in _LIMIT_TYPES:
            raise CatalogueError(f"{where}: [limits.{kind}]: kind must be one of {', '.join(_LIMIT_TYPES)}")
        for name, fields in _table(entries, f"{where}: [limits.{kind}]").items():
            label = f"{where}: limits {kind} {name!r}"
            named[(kind, name)] = _build(_LIMIT_TYPES[kind], _megabytes(_table(fields, label)), label)
    return named


def _megabytes(fields: dict[str, Any]) -> dict[str, Any]:
    """`max_mb` / `lenient_max_mb` in the file are `max_bytes` / `lenient_max_bytes` in the types."""
    out = dict(fields)
    for key in ("max_mb", "lenient_max_mb"):
        if key in out:
            value = out.pop(key)
            out[key.replace("_mb", "_bytes")] = int(value * MB) if isinstance(value, int | float) else value
    return out


def _build(cls: type, fields: dict[str, Any], label: str) -> Any:
    """A dataclass from TOML values: unknown or missing fields and wrong types name the field."""
    hints = typing.get_type_hints(cls)
    known = {field.name: field for field in dataclasses.fields(cls)}
    for key in fields:
        if key not in known:
            raise CatalogueError(f"{label}: unknown field {key!r} (allowed: {', '.join(sorted(known))})")
    missing = [
        name
        for name, field in known.items()
        if name not in fields
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise CatalogueError(f"{label}: missing field(s) {', '.join(missing)}")
    values = {key: _convert(value, hints[key], f"{label}: field {key!r}") for key, value in fields.items()}
    return cls(**values)


def _convert(value: object, hint: Any, label: str) -> object:
    """Check a TOML value against a field type (lists become tuples); a mismatch is a CatalogueError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, label)
            except CatalogueError:
                pass
        raise CatalogueError(f"{label}: {value!r} is not a {_describe(hint)}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(arg) for arg in typing.get_args(hint))
            raise CatalogueError(f"{label}: {value!r} is not one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise CatalogueError(f"{label}: expected a list, found {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(element, item, label) for element in value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogueError(f"{label}: expected a number, found {value!r}")
        return float(value)
    if hint in (int, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise CatalogueError(f"{label}: expected {hint.__name__}, found {value!r}")
        return value
    if isinstance(value, hint):
        return value
    raise CatalogueError(f"{label}: expected {_describe(hint)}, found {value!r}")


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _expand(where: str, name: str, fields: dict[str, Any], presets: dict[str, Any], seen: tuple[str, ...]) -> dict:
    """An entry's fields with its presets applied first (in `use` order, each expanded the same way)."""
    merged: dict[str, Any] = {}
    uses = fields.get("use", [])
    if not isinstance(uses, list) or not all(isinstance(use, str) for use in uses):
        raise CatalogueError(f"{where}: {name}: field 'use' must be a list of preset names")
    for use in uses:
        if use in seen:
            raise CatalogueError(f"{where}: {name}: preset {use!r} uses itself")
        if use not in presets:
            raise CatalogueError(f"{where}: {name}: field 'use': unknown preset {use!r} (known: {', '.join(presets)})")
        preset = _table(presets[use], f"{where}: preset {use!r}")
        merged.update(_expand(where, f"preset {use!r}", preset, presets, (*seen, use)))
    merged.update({key: value for key, value in fields.items() if key != "use"})
    return merged


def _model(where: str, entry: object, presets: dict[str, Any], limits: dict[tuple[str, str], object]) -> ModelSpec:
    fields = _table(entry, f"{where}: a [[models]] entry")
    model_id = fields.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise CatalogueError(f"{where}: a [[models]] entry has no 'id'")
    label = f"{where}: model {model_id!r}"
    merged = _expand(where, f"model {model_id!r}", fields, presets, ())
    if "durations" in merged:
        rule = _table(merged["durations"], f"{label}: field 'durations'")
        merged["durations"] = _build(DurationRule, {"default": 5, **rule}, f"{label}: field 'durations'")
    if "limits" in merged:
        merged["limits"] = _input_limits(label, _table(merged["limits"], f"{label}: field 'limits'"), limits)
    else:
        merged["limits"] = InputLimits()
    tiers = merged.pop("size_tiers", None)
    if tiers is not None:
        if not isinstance(tiers, list) or not all(tier in ("480P", "720P", "1080P") for tier in tiers):
            raise CatalogueError(f"{label}: field 'size_tiers' must list tiers of 480P, 720P, 1080P")
        merged["sizes"] = list(sizes_for(*tiers))
    for key in ("default_size", "default_resolution", "default_ratio"):
        if merged.get(key) == "":
            merged[key] = None  # "" unsets a preset's default (TOML has no null)
    for key, allowed in _ENUMS.items():
        if key in merged and merged[key] not in allowed:
            raise CatalogueError(f"{label}: field {key!r}: {merged[key]!r} is not one of {', '.join(allowed)}")
    unknown = set(merged) - {field.name for field in dataclasses.fields(ModelSpec)} - _SPELLING_KEYS
    if unknown:
        raise CatalogueError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
    spec: ModelSpec = _build(ModelSpec, merged, label)
    _check_consistent(label, spec)
    return spec


def _input_limits(label: str, slots: dict[str, Any], limits: dict[tuple[str, str], object]) -> InputLimits:
    values: dict[str, object] = {}
    for slot, name in slots.items():
        if slot == "references":
            references = _table(name, f"{label}: field 'limits.references'")
            values[slot] = _build(ReferenceLimits, references, f"{label}: field 'limits.references'")
            continue
        kind = _SLOT_KINDS.get(slot)
        if kind is None:
            allowed = ", ".join([*_SLOT_KINDS, "references"])
            raise CatalogueError(f"{label}: field 'limits.{slot}': no such input slot (allowed: {allowed})")
        if (kind, name) not in limits:
            raise CatalogueError(f"{label}: field 'limits.{slot}': no [limits.{kind}.{name}] table")
        values[slot] = limits[(kind, name)]
    return InputLimits(**values)  # type: ignore[arg-type]


def _check_consistent(label: str, spec: ModelSpec) -> None:
    """What the types cannot say: defaults among the allowed values, the fields a resolution field needs."""
    if spec.default_size and spec.default_size not in spec.sizes:
        raise CatalogueError(f"{label}: field 'default_size': {spec.default_size} is not among its sizes")
    if spec.default_resolution and spec.default_resolution not in spec.resolutions:
        raise CatalogueError(f"{label}: field 'default_resolution': {spec.default_resolution} not in resolutions")
    if spec.default_ratio and spec.default_ratio not in spec.ratios:
        raise CatalogueError(f"{label}: field 'default_ratio': {spec.default_ratio} is not among its ratios")
    if spec.durations.parameter and not spec.durations.allows(spec.durations.default):
        raise CatalogueError(f"{label}: field 'durations': the default {spec.durations.default} s is not allowed")
    if spec.resolution_field == "size" and not spec.sizes:
        raise CatalogueError(f"{label}: field 'sizes': a `size` model needs size_tiers or sizes")
    if spec.resolution_field != "size" and not spec.resolutions:
        raise CatalogueError(f"{label}: field 'resolutions': a `{spec.resolution_field}` model needs resolutions")
    if spec.resolution_field == "resolution+ratio" and not spec.ratios:
        raise CatalogueError(f"{label}: field 'ratios': a `resolution+ratio` model needs ratios")
    for function in spec.functions:
        if function != INSTRUCT and function not in VACE_FUNCTIONS:
            raise CatalogueError(f"{label}: field 'functions': unknown function {function!r}")
    if not spec.family:
        raise CatalogueError(f"{label}: field 'family' is missing (set it on the entry or a preset it uses)")
    if spec.submit_rps < 1 or spec.concurrency_limit < 1:
        raise CatalogueError(f"{label}: fields 'submit_rps' and 'concurrency_limit' must be at least 1")


def _mode_defaults(where: str, value: object, by_id: Mapping[str, ModelSpec]) -> dict[str, str]:
    defaults = _table(value, f"{where}: [mode_defaults]")
    for mode in (*MODES, INSTRUCT):
        if mode not in defaults:
            raise CatalogueError(f"{where}: [mode_defaults] has no {mode!r}")
    for mode, model_id in defaults.items():
        wanted = "vace" if mode == INSTRUCT else mode
        spec = by_id.get(model_id) if isinstance(model_id, str) else None
        if spec is None or spec.mode != wanted:
            raise CatalogueError(f"{where}: [mode_defaults] {mode}: {model_id!r} is not a catalogue {wanted} model")
    return dict(defaults)
