"""Deferred models (ConfigDict(defer_build=True)) completed before threads first use them.

The locked pydantic (2.13) builds a deferred model on its first use with no lock (pydantic
#13419, fixed by #13438 in a later release): threads that first use one model at once race in
model_rebuild() and one can fail with "type object 'X' has no attribute
'__pydantic_core_schema__'" or even be validated by BaseModel's mock validator. So code that fans
work out to threads calls build_deferred() first, naming the model modules (or classes) the
threads use. The cold import stays as it is (nothing is built there); each model is built once
per container, under one lock, and later calls only check that every model is complete.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import ModuleType

from pydantic import BaseModel

_BUILDING = threading.Lock()


def build_deferred(*targets: ModuleType | type[BaseModel]) -> None:
    """Build every incomplete model among `targets`: a module stands for the BaseModel
    subclasses defined in it. Safe to call from several threads; cheap once all are built."""
    pending = [model for model in _models(targets) if not model.__pydantic_complete__]
    if not pending:
        return
    with _BUILDING:
        for model in pending:
            if not model.__pydantic_complete__:  # another thread may have built it meanwhile
                # depth 0: names resolve in the model's own module, not in this frame.
                model.model_rebuild(_parent_namespace_depth=0)


def _models(targets: tuple[ModuleType | type[BaseModel], ...]) -> Iterator[type[BaseModel]]:
    for target in targets:
        if isinstance(target, ModuleType):
            for value in vars(target).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseModel)
                    and value.__module__ == target.__name__
                ):
                    yield value
        else:
            yield target
