"""Counter-based random numbers (csrc/rng.c and its twin kernels/rng.py): C equals the twin
bit for bit; the stream is SplitMix64 seeded with the key (checked against the vectors'
independent SplitMix64); draws are pure functions of their coordinates; ranges hold."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyreptile_ref import ParameterError
from tinyreptile_ref.kernels import rng as kr
from tinyreptile_ref.vectors.rng import SplitMix64

U64S = st.integers(0, 2**64 - 1)
KEYS = st.tuples(U64S, st.integers(0, 10), st.integers(0, 2**20), st.integers(0, 2**20))


@given(coords=KEYS, j0=U64S, n=st.integers(0, 40))
def test_c_matches_the_twin_on_keys_and_bits(cb, npb, coords, j0, n):
    k = cb.rng_key(*coords)
    assert k == npb.rng_key(*coords)
    assert np.array_equal(cb.rng_bits_u64(k, j0, n), npb.rng_bits_u64(k, j0, n))


@given(key=U64S, j0=st.integers(0, 2**40), n=st.integers(0, 40),
       lo=st.floats(-1e6, 1e6, width=32), span=st.floats(0, 1e6, width=32),
       bound=st.integers(1, 2**31 - 1))
def test_c_matches_the_twin_on_uniforms_integers_and_permutations(cb, npb, key, j0, n, lo,
                                                                   span, bound):
    hi = float(np.float32(lo) + np.float32(span))
    u = cb.rng_uniform_f32(key, j0, n, lo, hi)
    assert np.array_equal(u.view(np.uint32), npb.rng_uniform_f32(key, j0, n, lo, hi).view(np.uint32))
    assert np.all((u >= np.float32(lo)) & (u <= np.float32(hi)))
    b = cb.rng_below_i32(key, j0, n, bound)
    assert np.array_equal(b, npb.rng_below_i32(key, j0, n, bound))
    assert np.all((b >= 0) & (b < bound))
    p = cb.rng_permutation_i32(key, j0, n)
    assert np.array_equal(p, npb.rng_permutation_i32(key, j0, n))
    assert sorted(p.tolist()) == list(range(n))
    m = min(n, 12)
    d, used = cb.rng_distinct_i32(key, j0, m, max(m, min(bound, 20)))
    d2, used2 = npb.rng_distinct_i32(key, j0, m, max(m, min(bound, 20)))
    assert np.array_equal(d, d2) and used == used2 >= m and len(set(d.tolist())) == m


def test_the_stream_is_splitmix64_seeded_with_the_key(backend):
    key = backend.rng_key(7, 3, 12, 99)
    ref = SplitMix64(key).u64(64)  # the vectors' SplitMix64: output j from state key+(j+1)γ
    assert np.array_equal(backend.rng_bits_u64(key, 0, 64), ref)
    assert np.array_equal(backend.rng_bits_u64(key, 10, 5), ref[10:15])


def test_every_coordinate_changes_the_key(backend):
    base = (1, 2, 3, 4)
    keys = {backend.rng_key(*base)}
    for i in range(4):
        c = list(base)
        c[i] += 1
        keys.add(backend.rng_key(*c))
    assert len(keys) == 5


def test_uniforms_are_uniform_and_integers_unbiased_enough(npb):
    u = npb.rng_uniform_f32(npb.rng_key(0, 0, 0, 0), 0, 200_000, 0.0, 1.0)
    hist = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(hist - 20_000) < 5 * np.sqrt(20_000))
    b = npb.rng_below_i32(npb.rng_key(0, 1, 0, 0), 0, 100_000, 7)
    assert np.all(np.abs(np.bincount(b, minlength=7) - 100_000 / 7) < 5 * np.sqrt(100_000 / 7))


def test_the_stream_cursor_takes_consecutive_draws(npb):
    s = kr.Stream(5, 2, 1, 0)
    a = s.uniform(-5, 5, 3)
    b = s.integers(10, 2)
    key = npb.rng_key(5, 2, 1, 0)
    assert np.array_equal(a, npb.rng_uniform_f32(key, 0, 3, -5, 5))
    assert np.array_equal(b, npb.rng_below_i32(key, 3, 2, 10))


@pytest.mark.parametrize("call,name", [
    (lambda b: b.rng_key(-1, 0, 0, 0), "seed"),
    (lambda b: b.rng_key(0, 2**64, 0, 0), "stream"),
    (lambda b: b.rng_bits_u64(0, 0, -1), "n"),
    (lambda b: b.rng_uniform_f32(0, 0, 3, 2.0, 1.0), "lo"),
    (lambda b: b.rng_uniform_f32(0, 0, 3, 0.0, float("inf")), "hi"),
    (lambda b: b.rng_below_i32(0, 0, 3, 0), "bound"),
    (lambda b: b.rng_distinct_i32(0, 0, 4, 3), "m"),
    (lambda b: b.rng_permutation_i32(0, 2**64, 3), "j0"),
])
def test_bad_arguments_raise_the_same_error_on_both_backends(cb, npb, call, name):
    msgs = []
    for be in (cb, npb):
        with pytest.raises(ParameterError) as e:
            call(be)
        msgs.append(str(e.value))
        assert str(e.value).startswith(name + ":")
    assert msgs[0] == msgs[1]
