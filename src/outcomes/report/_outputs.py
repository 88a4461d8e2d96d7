"""Every published table as CSV and every figure as PNG, from the executed notebook."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


class _PublishedTables(HTMLParser):
    """Reads the published tables (``<figure class="outcomes-table" data-name=...>``) of an
    HTML output back into rows."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._name: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "outcomes-table" in (a.get("class") or ""):
            self._name = a.get("data-name") or f"table_{len(self.tables) + 1}"
            self.tables[self._name] = []
        elif self._name and tag == "tr":
            self.tables[self._name].append([])
        elif self._name and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._name and tag in ("td", "th") and self._cell is not None:
            self.tables[self._name][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "figure":
            self._name = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def save_outputs(executed_notebook: str | Path, folder: str | Path) -> list[Path]:
    """Write every published table of an executed report notebook as CSV and every figure as
    PNG into ``folder`` (``tables/<name>.csv``, ``figures/<name>.png``).

    Only what the report shows is written: tables are the tidy protected cells behind each
    :class:`outcomes.publish.PublishedTable` (``value, ci_low, ci_high, numerator,
    denominator, status``); figures are the cells' PNG outputs, named after their
    :class:`outcomes.figures.PublishedFigure` (``figure_<n>`` otherwise), and the data each
    one draws is ``tables/figure_<name>.csv``.
    """
    import base64
    import csv

    import nbformat

    nb = nbformat.read(str(executed_notebook), as_version=4)
    folder = Path(folder)
    written: list[Path] = []
    n_fig = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                n_fig += 1
                named = output.get("metadata", {}).get("image/png", {}).get("outcomes_figure")
                path = folder / "figures" / f"{named or f'figure_{n_fig}'}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(data["image/png"]))
                written.append(path)
            name = output.get("metadata", {}).get("text/csv", {}).get("outcomes_table")
            if name and "text/csv" in data:
                path = folder / "tables" / f"{name}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(data["text/csv"], encoding="utf-8")
                written.append(path)
            elif "outcomes-table" in data.get("text/html", ""):
                parser = _PublishedTables()
                parser.feed(data["text/html"])
                for name, rows in parser.tables.items():
                    path = folder / "tables" / f"{name}.csv"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("w", newline="", encoding="utf-8") as f:
                        csv.writer(f).writerows(rows)
                    written.append(path)
    return written
