"""What handlers reach through the app: the engine (built by a cleanup context or passed in by tests)."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import ApiError
from core import Engine


@dataclass(slots=True)
class Services:
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise ApiError(503, "the service is starting", type="server_error", code="not_ready")
        return self._engine

    @property
    def ready(self) -> bool:
        return self._engine is not None

    def __post_init__(self) -> None:
        self.attach(self._engine)

    def attach(self, engine: Engine | None) -> None:
        self._engine = engine
        if engine is not None:
            engine.serve_from_store()  # answers and GET by id read the stored row: a terminal row is delivered
