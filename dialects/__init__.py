"""Database adapters, imported as ``einsql.dialects.NAME`` and loaded by name."""
