"""The row-space audit carried from round to round (``disclosure._atoms._Audit``).

Withholding sets one at a time with rank-one updates must give what a fresh audit of the
sets left gives: which forms are determined, and the weights of the shortest combination
that yields each. Checked on random 0/1 set systems with dependent rows (sums of others,
duplicated in content by construction) and independent ones, and on a case worked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from outcomes.disclosure._atoms import _Atoms, _Audit


def _system(rng, n_atoms=24, n_sets=30, n_forms=25):
    base = (rng.random((n_sets, n_atoms)) < 0.2).astype(float)
    # dependent rows: unions of two disjoint-ish sets, so withholding one of three does not
    # change the row space
    extra = []
    for _ in range(8):
        i, j = rng.choice(n_sets, size=2, replace=False)
        extra.append(np.clip(base[i] + base[j], 0, 1))
    sets = np.vstack([base, *extra])
    sets = sets[sets.sum(axis=1) > 0]
    forms = np.vstack(
        [
            sets[rng.choice(sets.shape[0], size=n_forms // 2)]
            - sets[rng.choice(sets.shape[0], size=n_forms // 2)],
            (rng.random((n_forms - n_forms // 2, n_atoms)) < 0.1).astype(float),
        ]
    )
    atoms = _Atoms(sparse.csr_matrix(sets), np.ones(n_atoms, dtype=np.int64))
    return atoms, sparse.csr_matrix(forms)


@pytest.mark.parametrize("seed", range(6))
def test_withholding_matches_a_fresh_audit(seed):
    rng = np.random.default_rng(seed)
    atoms, forms = _system(rng)
    n = atoms.matrix.shape[0]
    ids = np.arange(n, dtype=np.int64)
    audit = _Audit(atoms, ids, forms)
    left = list(ids)
    for row in rng.permutation(n)[: n // 2]:
        audit.withhold(int(row))
        left.remove(row)
        fresh = _Audit(atoms, np.array(left, dtype=np.int64), forms)
        np.testing.assert_array_equal(audit.determined(), fresh.determined())
        for k in np.flatnonzero(fresh.determined()):
            got = audit.weights(int(k))[np.array(left)]
            np.testing.assert_allclose(got, fresh.weights(int(k)), atol=1e-8)
        # the shortest combination yields the form exactly
        for k in np.flatnonzero(audit.determined()):
            combo = atoms.matrix.T @ audit.weights(int(k))
            np.testing.assert_allclose(combo, forms[k].toarray().ravel(), atol=1e-8)


def test_withholding_a_part_worked_by_hand():
    """Atoms a, b, c; sets A = {a}, B = {b}, T = {a, b}, C = {c}. The count of {b} is
    determined by B itself, or by T - A. Withholding B leaves T - A (the row space stays:
    B's leverage is 2/3); withholding A as well leaves only T and C, which do not determine
    {b}. The form {a, b, c} stays determined, by T + C."""
    sets = sparse.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float))
    forms = sparse.csr_matrix(np.array([[0, 1, 0], [1, 1, 1]], dtype=float))
    atoms = _Atoms(sets, np.ones(3, dtype=np.int64))
    audit = _Audit(atoms, np.arange(4, dtype=np.int64), forms)
    assert audit.determined().tolist() == [True, True]
    audit.withhold(1)  # B
    assert audit.determined().tolist() == [True, True]
    np.testing.assert_allclose(audit.weights(0), [-1, 0, 1, 0], atol=1e-12)  # T - A
    audit.withhold(0)  # A
    assert audit.determined().tolist() == [False, True]
    np.testing.assert_allclose(audit.weights(1), [0, 0, 1, 1], atol=1e-12)  # T + C
