"""How one provider system's export maps onto the data contract: a TOML file, read once.

A mapping names the file (and sheet) holding each table, the export column behind each
contract column, the export values behind each contract code, the date formats and the text
encoding. It is data about an export, not configuration of the library: the loader
(:func:`outcomes.load`) applies it before anything is checked, and every entry point takes it
(``--mapping FILE``). ``docs/mapping.md`` documents the format; :func:`draft_mapping` writes a
first draft from an export it has never seen.
"""

from outcomes.mapping._draft import Draft, draft_mapping
from outcomes.mapping._file import Mapping, TableMapping, parse_mapping, read_mapping

__all__ = ["Draft", "Mapping", "TableMapping", "draft_mapping", "parse_mapping", "read_mapping"]
