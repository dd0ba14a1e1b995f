"""The interface every driver implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from einsql.dialect import Dialect
    from einsql.lower import Program, Relation
    from einsql.operands import CooArray, Table


class Driver(ABC):
    """Loads operands into a database, runs programs, fetches rows, cleans up."""

    dialect: Dialect
    """The dialect whose SQL this driver runs."""

    prefix: str
    """A unique prefix for the names this driver creates (registered and temporary tables)."""

    @abstractmethod
    def load(self, coo: CooArray, kind: str) -> Relation:
        """Make ``coo`` readable by SQL with values of ``kind``; return where it is."""

    @abstractmethod
    def run(self, program: Program, into: str | None = None) -> pa.Table | None:
        """Run ``program``; return its rows, or store them as table ``into``."""

    @abstractmethod
    def fetch(self, table: Table) -> pa.Table:
        """All rows of an existing table, as ``i0, ..., val`` columns."""

    @abstractmethod
    def close(self) -> None:
        """Drop what this driver made, and close the connection if it opened it."""
