"""Atoms (episodes with the same membership across every set) and the row-space audit over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import blas


@dataclass(frozen=True)
class _Atoms:
    matrix: sparse.csr_matrix  # sets x atoms, 0/1
    size: np.ndarray  # episodes in each atom


def _atoms(sets: list[np.ndarray]) -> _Atoms:
    if not sets:
        return _Atoms(sparse.csr_matrix((0, 0)), np.zeros(0, dtype=np.int64))
    rows = np.concatenate(sets)
    owner = np.repeat(np.arange(len(sets)), [s.size for s in sets])
    n_rows = int(rows.max()) + 1 if rows.size else 0
    member = sparse.csc_matrix(
        (np.ones(rows.size, dtype=np.int8), (owner, rows)), shape=(len(sets), n_rows)
    )
    member.sort_indices()
    signatures: dict[bytes, int] = {}
    atom_of = np.full(n_rows, -1, dtype=np.int64)
    for r in range(n_rows):
        start, end = member.indptr[r], member.indptr[r + 1]
        if start == end:
            continue
        key = member.indices[start:end].tobytes()
        atom_of[r] = signatures.setdefault(key, len(signatures))
    used = atom_of >= 0
    size = np.bincount(atom_of[used], minlength=len(signatures))
    pairs = sparse.csr_matrix(
        (np.ones(rows.size), (owner, atom_of[rows])), shape=(len(sets), len(signatures))
    )
    pairs.data[:] = 1.0  # a set holds an atom whole: 0/1 whatever the duplicates
    return _Atoms(pairs.tocsr(), size)


class _Audit:
    """What adding and subtracting exactly published sets can determine, and what
    withholding some of them changes.

    A count ``f @ x`` (x: atom counts) follows from the exactly published sets ``A x = b``
    precisely when ``f`` lies in the row space of ``A``. With ``G = A A^T = U diag(l) U^T``
    (its non-zero eigenvalues), the rows of ``C = U diag(l)^(1/2)`` are the exact sets in an
    orthonormal basis of that row space and ``z_f = diag(l)^(-1/2) U^T A f`` is the projection
    of ``f`` on it; ``f`` is determined when ``|z_f|^2`` equals ``f @ f`` (to a relative 1e-7:
    the entries are small integers).

    Withholding a set removes its row ``c`` from ``C``. With ``K^+`` the pseudo-inverse of
    ``C^T C`` (``diag(1/l)`` at first), the set's *leverage* ``h = c^T K^+ c`` is 1 exactly
    when no combination of the other sets yields it: the row space then loses the direction
    ``u = K^+ c`` (normalised), every ``z_f`` loses its component along ``u``, and ``K^+``
    becomes ``P K^+ P`` with ``P = I - u u^T`` (Meyer's pseudo-inverse of a rank-one
    modification). Otherwise the row space stays and ``K^+`` takes the Sherman-Morrison update
    ``K^+ + K^+ c c^T K^+ / (1 - h)``. Each costs O(r^2) for ``r`` basis vectors, against
    O(n^3) for a new decomposition of ``n`` exact sets.

    :func:`outcomes.disclosure.protect` carries one audit from round to round this way, and
    lets a fresh decomposition decide before anything is published, so no accumulated
    rounding decides what is shown.
    """

    #: A leverage within this of 1 counts as 1 (leverages of 0/1 rows that other rows can
    #: replace stay well below: 2/3 for one of three sets of which one is the sum of the
    #: others).
    SOLE = 1e-6

    def __init__(self, atoms: _Atoms, exact: np.ndarray, forms: sparse.csr_matrix):
        self.ids = exact
        a = atoms.matrix[exact].tocsr()
        gram = (a @ a.T).toarray()
        if gram.size:
            lam, u = np.linalg.eigh(gram)
            keep = lam > 1e-9 * max(lam.max(), 1.0)
            lam, u = lam[keep], u[:, keep]
        else:
            lam, u = np.zeros(0), np.zeros((exact.size, 0))
        root = np.sqrt(lam)
        self.c = u * root  # exact sets x basis
        # Fortran order: the rank-one updates below run in place (BLAS dger)
        self.kinv = np.asfortranarray(np.diag(1.0 / lam)) if lam.size else np.zeros((0, 0))
        self.active = np.ones(exact.size, dtype=bool)
        self.norm = np.asarray(forms.multiply(forms).sum(axis=1)).ravel()
        if lam.size and forms.shape[0]:
            self.z = (u.T @ np.asarray((a @ forms.T).todense())) / root[:, None]
        else:
            self.z = np.zeros((lam.size, forms.shape[0]))
        self.z = np.asfortranarray(self.z)

    def determined(self, k: int | None = None) -> np.ndarray | bool:
        """Whether form ``k`` (or each form) is determined by the sets not withheld."""
        z = self.z if k is None else self.z[:, k]
        projected = (z**2).sum(axis=0)
        norm = self.norm if k is None else self.norm[k]
        return np.abs(norm - projected) <= 1e-7 * np.maximum(norm, 1.0)

    def weights(self, k: int) -> np.ndarray:
        """Each exact set's weight in the shortest combination of the sets not withheld
        that yields form ``k`` (0 for withheld sets)."""
        return np.where(self.active, self.c @ (self.kinv @ self.z[:, k]), 0.0)

    def withhold(self, row: int) -> None:
        """Take exact set ``row`` (a position in :attr:`ids`) out of the published sets."""
        if not self.active[row]:
            return
        self.active[row] = False
        c = self.c[row]
        kc = self.kinv @ c
        h = float(c @ kc)
        if h > 1 - self.SOLE:
            u = kc / np.linalg.norm(kc)
            ku = self.kinv @ u
            # P K^+ P = K^+ - u ku' - ku u' + (u'K^+u) u u' = K^+ + u (a u - ku)' - ku u'
            _rank_one(self.kinv, 1.0, u, (u @ ku) * u - ku)
            _rank_one(self.kinv, -1.0, ku, u)
            _rank_one(self.z, -1.0, u, u @ self.z)
        else:
            _rank_one(self.kinv, 1.0 / (1.0 - h), kc, kc)


def _rank_one(a: np.ndarray, alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``a += alpha * outer(x, y)`` in place (``a`` in Fortran order)."""
    if a.size:
        out = blas.dger(alpha, x, y, a=a, overwrite_a=True)
        if not np.shares_memory(out, a):  # BLAS made a copy (a not in Fortran order)
            a[...] = out
