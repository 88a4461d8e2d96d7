"""The report's notebook tools load without the grammar jsonschema compiles for IRI formats
(about a second of every report), and nothing stays blocked afterwards."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_notebook_tools_load_without_the_iri_grammar():
    code = textwrap.dedent(
        """
        import sys
        from outcomes.report._kernel import import_notebook_tools
        import_notebook_tools()
        assert "papermill" in sys.modules and "nbconvert" in sys.modules
        assert "rfc3987_syntax" not in sys.modules, "the grammar was imported"
        import nbformat
        nbformat.validate(nbformat.v4.new_notebook())  # the schema check still works
        import importlib.util
        if importlib.util.find_spec("rfc3987_syntax") is not None:
            import rfc3987_syntax  # not blocked any more
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
