"""The queue's tables and columns as a dialect writes them: taken from the models' _meta, quoted."""

from dataclasses import dataclass


class Table:
    """One model's table quoted for one connection: ``{table}`` is its name, ``{table.job_id}`` a column.

    Columns are looked up by attribute name (a foreign key ``job`` is ``job_id``), so SQL written
    with them follows the models' ``db_table`` and ``db_column`` wherever those say otherwise.
    """

    def __init__(self, meta, quote):
        self._name = quote(meta.db_table)
        self._columns = {field.attname: quote(field.column) for field in meta.concrete_fields}

    def __str__(self):
        return self._name

    def __format__(self, spec):
        return self._name

    def __getattr__(self, attname):
        try:
            return self.__dict__["_columns"][attname]
        except KeyError:
            raise AttributeError(f"{self._name} has no column for {attname!r}") from None

    def columns(self, attnames, qualified=False):
        """A comma-separated column list, each prefixed with the table's name when ``qualified``."""
        prefix = f"{self._name}." if qualified else ""
        return ", ".join(prefix + self._columns[name] for name in attnames)


@dataclass(frozen=True)
class Tables:
    """The queue tables a dialect writes SQL for."""

    job: Table
    ready: Table
    scheduled: Table
    claimed: Table
    blocked: Table
    semaphore: Table
    pause: Table
    unique_key: Table
