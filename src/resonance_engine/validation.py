"""The base of every configuration model: pydantic validation with our errors.

pydantic raises :class:`pydantic.ValidationError`, whose text is several lines long and
which is no :class:`~resonance_engine.errors.ResonanceError` (so the CLI printed a
traceback). :class:`ConfigModel` turns it into
:class:`~resonance_engine.errors.ParameterError`: one line with the field's dotted path,
the value given and what the field allows. Its models also refuse NaN and infinities in
float fields and unknown fields.
"""

from __future__ import annotations

import contextvars
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from resonance_engine.errors import ParameterError

__all__ = ["ConfigModel", "parameter_error"]

#: How deep inside ConfigModel validation this context is (0: not validating).
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("config_model_depth", default=0)

_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_KINDS = {
    "int": "an integer",
    "float": "a number",
    "finite_number": "a finite number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a table",
    "model": "a table",
}


def _allowed(error: dict[str, Any], model: type[BaseModel] | None) -> str:
    """What the field of one pydantic error allows, in words."""
    kind, ctx = error["type"], error.get("ctx") or {}
    bounds = [f"{_BOUNDS[k]} {ctx[k]}" for k in _BOUNDS if k in ctx]
    if bounds:
        return " and ".join(bounds)
    if kind == "literal_error" and "expected" in ctx:
        return f"one of {ctx['expected']}"
    if kind == "extra_forbidden" and model is not None:
        known = _fields_at(model, error["loc"][:-1])
        return "a known field" + (f" ({', '.join(known)})" if known else "")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    for prefix, words in _KINDS.items():
        if kind.startswith(prefix):
            return words
    return str(error["msg"])


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model at ``loc`` (list indices skipped)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args) if hasattr(a, "model_fields")), None)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _shown(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return "a very large integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parameter_error(
    exc: ValidationError, model: type[BaseModel] | None = None, where: str = ""
) -> ParameterError:
    """One ParameterError for a pydantic ValidationError (its first error; the message
    says how many there were).

    Parameters
    ----------
    exc : pydantic.ValidationError
    model : type, optional
        The model validated (to list the known fields for an unknown one).
    where : str
        Prefix of the message ("config file 'pond.toml': ").
    """
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(the whole value)"
    value = first.get("input")
    allowed = _allowed(cast(dict[str, Any], first), model)
    more = exc.error_count() - 1
    if first["type"] == "extra_forbidden":
        text = f"{where}unknown field {field!r} (allowed: {allowed})"
    elif first["type"] == "missing":
        text = f"{where}{field} is missing (it is required)"
    else:
        text = f"{where}{field} = {_shown(value)} is not allowed: it must be {allowed}"
    if more:
        text += f" ({more} more error{'s' if more > 1 else ''})"
    return ParameterError(text, field, value, allowed)


class ConfigModel(BaseModel):
    """A pydantic model whose validation errors are
    :class:`~resonance_engine.errors.ParameterError`; unknown fields, NaN and infinities
    are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    def __init__(self, /, **data: Any) -> None:
        # pydantic calls this __init__ for nested models too: only the outermost call
        # converts (an inner one passes the ValidationError up, where pydantic adds the
        # path to the field)
        depth = _DEPTH.get()
        token = _DEPTH.set(depth + 1)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if depth:
                raise
            raise parameter_error(exc, type(self)) from None
        finally:
            _DEPTH.reset(token)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        depth = _DEPTH.get()
        token = _DEPTH.set(depth + 1)
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            if depth:
                raise
            raise parameter_error(exc, cls) from None
        finally:
            _DEPTH.reset(token)
