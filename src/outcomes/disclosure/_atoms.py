"""Atoms (episodes with the same membership across every set) and the row-space audit over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


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
    """What adding and subtracting exactly published sets can determine.

    A count ``f @ x`` (x: atom counts) follows from the exactly published sets ``A x = b``
    precisely when ``f`` lies in the row space of ``A``. With ``G = A A^T = U diag(l) U^T``,
    the squared length of the projection of ``f`` on that space is
    ``sum_k (U^T A f)_k^2 / l_k`` over the non-zero ``l_k``; ``f`` is determined when that
    equals ``f @ f`` (to a relative 1e-7: the entries are small integers).
    """

    def __init__(self, atoms: _Atoms, exact: np.ndarray):
        self.ids = exact
        self.a = atoms.matrix[exact].tocsr()
        gram = (self.a @ self.a.T).toarray()
        if gram.size:
            lam, u = np.linalg.eigh(gram)
            keep = lam > 1e-9 * max(lam.max(), 1.0)
            self.lam, self.u = lam[keep], u[:, keep]
        else:
            self.lam, self.u = np.zeros(0), np.zeros((0, 0))

    def determined(self, forms: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Which forms (rows of atom coefficients) the exact sets determine, and for each
        determined one the weights of the exact sets in the least-squares combination that
        yields it (exact sets x determined forms)."""
        if not self.lam.size or forms.shape[0] == 0:
            return np.zeros(forms.shape[0], dtype=bool), np.zeros((self.ids.size, 0))
        g = self.u.T @ np.asarray((self.a @ forms.T).todense())
        projected = (g**2 / self.lam[:, None]).sum(axis=0)
        norm = np.asarray(forms.multiply(forms).sum(axis=1)).ravel()
        det = np.abs(norm - projected) <= 1e-7 * np.maximum(norm, 1.0)
        return det, self.u @ (g[:, det] / self.lam[:, None])
