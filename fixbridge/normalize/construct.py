"""Frozen, slotted dataclasses made without their generated ``__init__``'s per-field cost.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__``, a general call per field; ingestion makes several such objects per
execution (an :class:`~fixbridge.normalize.execution.ExecutionEvent` has 37 fields).
:func:`slot_init` gives such a class an ``__init__`` with the same parameters that sets each
field's slot directly (its member descriptor's ``__set__``, which is what
``object.__setattr__`` ends in): the same object, made in about 40 % less time.

Rules: only a class whose generated ``__init__`` does nothing but store every field is
changed (no ``__post_init__``, no ``InitVar``, no default factory, a slot per field, the
``__init__`` the dataclass decorator wrote); anything else is refused with a TypeError when
the class is defined, never quietly made some other way. Never validates or converts a
value (neither does the generated ``__init__``).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable
from typing import Any, TypeVar

_C = TypeVar("_C", bound=type)

SlotSetter = Callable[[object, object], None]


def slot_setters(cls: type) -> dict[str, SlotSetter] | None:
    """Each field's slot setter when constructing ``cls`` only stores its fields in their
    slots: a dataclass with the generated ``__init__`` of every field (or :func:`slot_init`'s),
    no ``__post_init__``, and a slot per field. None otherwise."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.init or hasattr(cls, "__post_init__"):
        return None
    # The generated __init__ is compiled from text ("<string>"); one written in a class body
    # has its module's file name, and may do more than store its arguments.
    code = getattr(cls.__dict__.get("__init__"), "__code__", None)
    if code is None or code.co_filename != "<string>":
        return None
    setters: dict[str, SlotSetter] = {}
    for spec in dataclasses.fields(cls):
        slot = inspect.getattr_static(cls, spec.name, None)
        if not spec.init or not isinstance(slot, types.MemberDescriptorType):
            return None
        setters[spec.name] = slot.__set__
    return setters


def slot_init(cls: _C) -> _C:
    """Class decorator, above ``@dataclass(frozen=True, slots=True)``: replaces the generated
    ``__init__`` by one with the same signature (positions, keywords, defaults) that fills
    the slots directly. Raises TypeError for a class it cannot do that for (module doc)."""
    setters = slot_setters(cls)
    generated = cls.__dict__.get("__init__")
    # The generated __init__ takes exactly the fields, in order: an InitVar would be one more.
    if (
        setters is None
        or generated is None
        or list(inspect.signature(generated).parameters)[1:] != list(setters)
    ):
        raise TypeError(f"slot_init: {cls.__qualname__} is not a plain slots dataclass")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"slot_init: {cls.__qualname__} is not frozen (nothing to gain)")
    if "self" in setters:
        raise TypeError(f"slot_init: {cls.__qualname__} has a field named self")
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword_only: list[str] = []
    body: list[str] = []
    # Helpers are named __slot_*: no field can be (a class body mangles such names).
    for n, spec in enumerate(dataclasses.fields(cls)):
        if spec.default_factory is not dataclasses.MISSING:
            raise TypeError(f"slot_init: {cls.__qualname__}.{spec.name} has a default factory")
        parameter = spec.name
        if spec.default is not dataclasses.MISSING:
            namespace[f"__slot_default{n}"] = spec.default
            parameter = f"{spec.name}=__slot_default{n}"
        (keyword_only if spec.kw_only else positional).append(parameter)
        namespace[f"__slot_set{n}"] = setters[spec.name]
        body.append(f"    __slot_set{n}(self, {spec.name})")
    parameters = ["self", *positional, *(["*", *keyword_only] if keyword_only else [])]
    source = "\n".join([f"def __init__({', '.join(parameters)}):", *body])
    exec(source, namespace)  # the source is built above from the class's field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = source  # what was compiled, for a reader in a debugger
    init.__annotations__ = dict(generated.__annotations__)
    cls.__init__ = init  # type: ignore[misc]
    return cls


__all__ = ["SlotSetter", "slot_init", "slot_setters"]
