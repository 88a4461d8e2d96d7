"""Running the notebook with papermill: one line per section, no kernel transport warning."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from outcomes.report._params import ReportParams

#: Imported by jsonschema (which nbformat loads) only to check IRI formats, which no
#: notebook schema uses; it compiles a grammar on import, about a second of every report.
_UNUSED_ON_IMPORT = ("rfc3987_syntax",)


def import_notebook_tools() -> None:
    """Import papermill, nbformat and nbconvert without what their schema checks never use
    (:data:`_UNUSED_ON_IMPORT`); a module imported before this is left as it is, and nothing
    stays blocked afterwards."""
    blocked = [name for name in _UNUSED_ON_IMPORT if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # an ImportError for whoever asks, while the tools load
    try:
        import nbconvert  # noqa: F401
        import nbformat  # noqa: F401
        import papermill  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def start_kernel(cwd: str | Path):
    """Start the report's kernel (``python3``, quiet: :func:`_quiet_kernel`) in ``cwd``
    without waiting for it: it boots while this process loads the rest of the notebook tools.
    Stop it with :func:`stop_kernel`."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    options = _quiet_kernel()
    km = AsyncKernelManager(
        kernel_name="python3", **{k: options[k] for k in ("config",) if k in options}
    )
    run_sync(km.start_kernel)(extra_arguments=options.get("extra_arguments", []), cwd=str(cwd))
    return km


def stop_kernel(km) -> None:
    """Stop a kernel from :func:`start_kernel` at once (every output is in by then)."""
    from jupyter_core.utils import run_sync

    if run_sync(km.is_alive)():
        run_sync(km.shutdown_kernel)(now=True)


def _execute(
    notebook: str | Path,
    executed: Path,
    params: ReportParams,
    timeout: int,
    say: Callable[[str], None],
    km,
) -> None:
    """Run the notebook with papermill into ``executed`` on the kernel ``km``
    (:func:`start_kernel`): one progress line per ``## `` section, the cells' stderr (warnings
    and the like) echoed live to this process's stderr."""
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register(_ENGINE, _talkative_engine())
    pm.execute_notebook(
        str(notebook),
        str(executed),
        parameters=params.notebook_parameters(),
        engine_name=_ENGINE,
        kernel_name="python3",
        cwd=str(Path(notebook).parent),
        execution_timeout=timeout,
        progress_bar=False,
        stderr_file=sys.stderr,  # the log: the user sees the warnings; scrub() drops them
        on_cell_start=_section_announcer(say),
        km=km,
    )


_ENGINE = "outcomes-report"


def _talkative_engine():
    """papermill's nbclient engine, calling ``on_cell_start(cells, index)`` before each cell."""
    from papermill.engines import NBClientEngine

    class TalkativeEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell_start=None, **kwargs):
            if on_cell_start is not None:
                cell_start = nb_man.cell_start

                def announce_then_start(cell, cell_index=None, **kw):
                    on_cell_start(nb_man.nb.cells, cell_index)
                    return cell_start(cell, cell_index, **kw)

                nb_man.cell_start = announce_then_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return TalkativeEngine


def _section_announcer(say: Callable[[str], None]) -> Callable[[list, int], None]:
    """A cell-start callback that says which ``## `` section of the notebook runs now
    (``running the notebook: Summary (cell 5/34)``), once per section."""
    last: list[str] = []

    def on_cell_start(cells, index) -> None:
        section = "setting up"
        for cell in cells[: (index or 0) + 1]:
            first = (cell.source.strip().splitlines() or [""])[0]
            if cell.cell_type == "markdown" and first.startswith("## "):
                section = first[3:].strip()
        if last[-1:] != [section]:
            last.append(section)
            say(f"running the notebook: {section} (cell {(index or 0) + 1}/{len(cells)})")

    return on_cell_start


def _quiet_kernel() -> dict[str, object]:
    """The kernel manager's ``config`` or the kernel's ``extra_arguments`` (for
    :func:`start_kernel`) that keep ipykernel's "Kernel is running over TCP without
    encryption" warning off the terminal.

    ipykernel prints it (from the kernel process, whose stderr is ours) whenever its ZeroMQ
    channels use TCP without CurveZMQ keys. The kernel binds to 127.0.0.1 only and lives as
    long as this run, so nothing leaves the machine; still, a warning about plain-text
    traffic alarms anyone handling 42 CFR Part 2 records. Where jupyter_client can provision
    CurveZMQ keys (``KernelManager.transport_encryption``, jupyter_client >= 8.10, pyzmq with
    libsodium, a kernelspec declaring ``supported_encryption: curve``), we simply encrypt,
    and the warning has no reason to appear. Otherwise the kernel's own log is set to ERROR,
    which silences that warning (and the kernel application's other warnings, never about
    the report) while the cells' warnings still reach the log through their stderr.
    """
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        declares_curve = "curve" in str(spec.metadata.get("supported_encryption", "")).lower()
    except NoSuchKernel:
        declares_curve = False
    encryptable = "transport_encryption" in KernelManager.class_trait_names()
    if declares_curve and encryptable and zmq.has("curve"):
        return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}
    return {"extra_arguments": ["--IPKernelApp.log_level=ERROR"]}
