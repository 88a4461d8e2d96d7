"""Nothing from the machine in what is published: stderr, papermill's paths, the data folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from outcomes.report._params import DATA_PLACEHOLDER


def _machine_paths(data_dir: str | Path) -> list[str]:
    """The spellings of the data folder's absolute path a notebook may hold, longest first."""
    paths = {str(Path(data_dir).resolve()), os.path.abspath(data_dir)}
    if Path(data_dir).is_absolute():
        paths.add(str(data_dir))
    return sorted((p for p in paths if p not in ("/", "")), key=len, reverse=True)


def scrub(nb, data_dir: str | Path, benchmarks: str | Path | None = None) -> list[str]:
    """Remove what belongs to the machine, not the report, from an executed notebook (in place).

    - every ``stream`` output named ``stderr`` (warnings carry host paths and code lines;
      :func:`render` has already echoed them to the log);
    - papermill's run metadata that names paths: ``parameters``, ``default_parameters``,
      ``input_path``, ``output_path``, ``environment_variables``;
    - the data folder's absolute path wherever it remains (the injected parameters cell,
      outputs) becomes ``<data>``; the benchmark table's path (``benchmarks``), its bare
      file name.

    Returns the stderr texts removed, in order.
    """
    removed: list[str] = []
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        keep = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output.get("text", "")
                removed.append(text if isinstance(text, str) else "".join(text))
            else:
                keep.append(output)
        cell.outputs = keep
    meta = nb.metadata.get("papermill")
    if meta is not None:
        for key in (
            "parameters",
            "default_parameters",
            "input_path",
            "output_path",
            "environment_variables",
        ):
            meta.pop(key, None)
    swaps = [(p, DATA_PLACEHOLDER) for p in _machine_paths(data_dir)]
    if benchmarks is not None:
        swaps += [(p, Path(benchmarks).name) for p in _machine_paths(benchmarks)]
    swaps.sort(key=lambda pair: len(pair[0]), reverse=True)

    def clean(value):
        if isinstance(value, str):
            for path, placeholder in swaps:
                value = value.replace(path, placeholder)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            for key in list(value):
                value[key] = clean(value[key])
            return value
        return value

    clean(nb)
    return removed


def _write_scrubbed(
    source: Path, target: Path, data_dir: str | Path, benchmarks: str | Path | None = None
) -> None:
    """Read an executed notebook, :func:`scrub` it, and write it to ``target``."""
    import nbformat

    nb = nbformat.read(str(source), as_version=4)
    scrub(nb, data_dir, benchmarks)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
