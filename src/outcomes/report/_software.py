"""The software a report was made with: Python, the lock file's hash, and whether the libraries
running are the locked ones (so a report rendered next year can show it used this quarter's)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from dataclasses import dataclass
from pathlib import Path

import polars as pl

#: The lock file of the repository (``make lock`` writes it; the Makefile installs from it).
LOCK_FILE = "requirements.lock"
LIBRARY_COLUMNS = ("package", "locked", "installed")


@dataclass(frozen=True)
class Software:
    """What :func:`software` found. Renders as the methods section's "Software" line.

    Attributes
    ----------
    python : str
        The running Python's version, e.g. ``3.11.7``.
    lock : str or None
        File name of the lock read (``requirements.lock``), or None when none was found.
    sha256 : str or None
        SHA-256 of the lock file's bytes (what ``sha256sum requirements.lock`` prints).
    libraries : polars.DataFrame
        One row per library the lock pins for this Python and platform: ``package`` (String,
        the lock's name), ``locked`` (String version) and ``installed`` (String version, null
        when not installed). Empty without a lock.
    """

    python: str
    lock: str | None
    sha256: str | None
    libraries: pl.DataFrame

    @property
    def mismatches(self) -> pl.DataFrame:
        """The rows of :attr:`libraries` whose installed version is not the locked one."""
        return self.libraries.filter(
            pl.col("installed").is_null() | (pl.col("installed") != pl.col("locked"))
        )

    def text(self) -> str:
        """The methods section's line as Markdown."""
        if self.lock is None:
            return (
                f"- **Software**: Python {self.python}; no lock file was found beside the "
                "package, so the library versions are those installed, not a locked set."
            )
        head = (
            f"- **Software**: Python {self.python}; libraries as pinned by `{self.lock}` "
            f"(SHA-256 `{self.sha256}`)"
        )
        off = self.mismatches
        if off.height == 0:
            return f"{head}: all {self.libraries.height} installed at their locked versions."
        shown = ", ".join(
            f"{r['package']} {r['installed'] or 'missing'} (locked {r['locked']})"
            for r in off.head(5).iter_rows(named=True)
        )
        more = f" and {off.height - 5} more" if off.height > 5 else ""
        return f"{head}, except {shown}{more}."

    def _repr_markdown_(self) -> str:
        return self.text()


def software(lock: str | Path | None = None) -> Software:
    """The Python, lock file and library versions of this run, for a report's methods section.

    Parameters
    ----------
    lock : str or Path, optional
        The lock file (pip requirements with ``==`` pins, hashes and environment markers, as
        ``uv pip compile`` writes it). By default ``requirements.lock`` of the repository this
        package runs from (an editable install, as ``make`` makes); a package installed
        elsewhere has none, and the result says so.

    Returns
    -------
    Software
        ``python``, ``lock`` (file name), ``sha256`` and ``libraries`` (``package, locked,
        installed``: the pins whose markers hold for this interpreter).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from outcomes.report import software
    >>> with tempfile.TemporaryDirectory() as d:
    ...     lock = pathlib.Path(d) / "requirements.lock"
    ...     _ = lock.write_text("polars==0.0.1 ; python_version >= '3'\\n")
    ...     s = software(lock)
    >>> s.libraries["package"].to_list(), s.mismatches.height
    (['polars'], 1)
    """
    python = platform.python_version()
    path = Path(lock) if lock is not None else _repository_lock()
    if path is None or not path.is_file():
        if lock is not None:
            raise FileNotFoundError(f"no lock file at {path}")
        return Software(python, None, None, pl.DataFrame(schema=dict.fromkeys(LIBRARY_COLUMNS)))
    data = path.read_bytes()
    pins = _pins(data.decode("utf-8"))
    installed = _installed()
    from packaging.utils import canonicalize_name

    libraries = pl.DataFrame(
        {
            "package": [name for name, _ in pins],
            "locked": [version for _, version in pins],
            "installed": [installed.get(canonicalize_name(name)) for name, _ in pins],
        },
        schema=dict.fromkeys(LIBRARY_COLUMNS, pl.String),
    )
    return Software(python, path.name, hashlib.sha256(data).hexdigest(), libraries)


def _repository_lock() -> Path | None:
    """``requirements.lock`` at the root of the checkout holding ``src/outcomes``, if any."""
    package = Path(__file__).resolve().parents[1]  # .../src/outcomes
    if package.parent.name != "src":
        return None
    candidate = package.parents[1] / LOCK_FILE
    return candidate if candidate.is_file() else None


def _pins(text: str) -> list[tuple[str, str]]:
    """``(name, version)`` of each ``name==version`` requirement whose marker holds here."""
    from packaging.requirements import Requirement

    pins = []
    # a requirement spans its line and the continuation lines of its hashes
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(" ".join(t for t in line.split() if not t.startswith("--hash")))
        if req.marker is not None and not req.marker.evaluate():
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":  # a lock pins each with one ==
            raise ValueError(f"{req.name} is not pinned with one == in the lock: {line}")
        pins.append((req.name, specs[0].version))
    return pins


def _installed() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in importlib.metadata.distributions()
        if d.metadata["Name"]
    }
