"""The executed notebook as one self-contained HTML page, laid out for print."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from outcomes.report._params import REMOVE_TAG, TEMPLATES


def to_html(executed_notebook: str | Path) -> str:
    """Convert an executed notebook to one self-contained HTML page without code cells.

    The page's ``<title>`` (and the PDF's title and running footer) is the notebook metadata
    ``title`` or else its first level-1 heading. Two touches for print: in table cells, a
    number with a hyphen (``(42.7-55.9)``, ``45-59``) is wrapped in ``<span class="nobr">``, so
    ``49.3% (42.7-55.9)`` wraps only at its space (Chromium breaks after a hyphen otherwise);
    and each table gets its narrowest width (``--table-em``), from which the template sizes its
    font, and the class ``wide`` when too wide for a portrait A4 page even at the smallest
    font: the template prints those on landscape pages.
    """
    import html as _html

    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    # The template shrinks a table's font to fit the page (down to 7pt in print, from 8pt); a
    # table that would need less prints on landscape pages: 7pt on a portrait A4 page's 186 mm.
    landscape_em = 186 / 25.4 * 72 / 7

    def first_heading(nb) -> str:
        for cell in nb.cells:
            texts = [cell.source] if cell.cell_type == "markdown" else []
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                texts += [data.get("text/markdown", ""), data.get("text/html", "")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else str(text)
                md = re.search(r"^#[ \t]+(.+?)[ \t#]*$", text, re.M)
                h1 = re.search(r"<h1\b[^>]*>(.*?)</h1>", text, re.S | re.I)
                found = md[1] if md else h1 and _html.unescape(re.sub(r"<[^>]+>", "", h1[1]))
                found = re.sub(r"[`*¶]", "", found or "").strip()
                if found:
                    return found
        return "Quarterly outcomes report"

    def keep_numbers_whole(m: re.Match) -> str:
        whole = re.sub(r"\S*[-\u2013][\d.]\S*", r'<span class="nobr">\g<0></span>', m[2])
        return m[1] + whole + m[3]

    def table_em(table: str) -> float:
        """The narrowest width of a table, in em of its font: per column the longest piece
        of text that cannot wrap (a header word, a figure, a bracket) at 0.55 em a character
        (Arial's digits; narrow fonts need less), plus the cells' padding."""
        longest: dict[int, int] = {}
        for row in re.findall(r"<tr\b.*?</tr>", table, re.S | re.I):
            cells = re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S | re.I)
            for i, cell in enumerate(cells):
                text = _html.unescape(re.sub(r"<[^>]+>", "", cell))
                longest[i] = max([longest.get(i, 0), *(len(w) for w in text.split())])
        return sum(0.55 * n + 0.9 for n in longest.values())

    def add_class(opening: str, name: str) -> str:
        if re.search(r'\bclass="', opening):
            return re.sub(r'\bclass="', f'class="{name} ', opening, count=1)
        return f'{opening[:-1]} class="{name}">'

    def size_tables(m: re.Match) -> str:
        """Give each table its width (``--table-em``, which the template's font size uses)
        and the class ``wide`` to a table (or its published figure) too wide for portrait."""
        widest = 0.0

        def size(t: re.Match) -> str:
            nonlocal widest
            em = table_em(t[0])
            widest = max(widest, em)
            opening = re.match(r"<table\b[^>]*>", t[0], re.I)[0]
            style = f' style="--table-em: {em:.1f}"' if "style=" not in opening else ""
            opening_out = f"{opening[:-1]}{style}>"
            if m[0].lower().startswith("<table") and em > landscape_em:
                opening_out = add_class(opening_out, "wide")
            return opening_out + t[0][len(opening) :]

        element = re.sub(r"<table\b.*?</table>", size, m[0], flags=re.S | re.I)
        if element.lower().startswith("<figure") and widest > landscape_em:
            opening = re.match(r"<figure\b[^>]*>", element, re.I)[0]
            element = add_class(opening, "wide") + element[len(opening) :]
        return element

    nb = nbformat.read(str(executed_notebook), as_version=4)
    remove = TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True)
    nb, _ = remove.preprocess(nb, {})
    report_title = str(nb.metadata.get("title") or first_heading(nb))
    nb.metadata["title"] = report_title  # the lab template's <title>, and the footer's
    exporter = HTMLExporter(
        template_name="report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": report_title}})
    body = re.sub(r"(<td\b[^>]*>)([^<]*)(</td>)", keep_numbers_whole, body, flags=re.I)
    # A published table (figure.outcomes-table) is marked whole: caption and notes go with it.
    return re.sub(
        r'<figure\b[^>]*\bclass="[^"]*\boutcomes-table\b[^"]*"[^>]*>.*?</figure>'
        r"|<table\b.*?</table>",
        size_tables,
        body,
        flags=re.S | re.I,
    )
