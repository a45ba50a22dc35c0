"""tinyreptile_ref.testing, the public property-testing API: every kernel's argument strategy
draws sets that both backends accept and compute to the same bits (or refuse with the same
error); assert_same_bits reports index, hex and decimal values and ulps, with the NaN rule."""
import copy

import numpy as np
import pytest
from hypothesis import find, given, settings

from tinyreptile_ref import get_backend
from tinyreptile_ref.errors import TinyReptileError
from tinyreptile_ref.testing import (KERNELS, activation_ranges, assert_bits_equal,
                                     assert_same_bits, kernel_args, multipliers_shifts,
                                     special_f32_arrays, ulp_distance)

NP, C = get_backend("numpy"), get_backend("c")


def call(be, name, args, kwargs):
    args = copy.deepcopy(args)  # in-place kernels update their first argument
    try:
        out = getattr(be, name)(*args, **kwargs)
    except TinyReptileError as e:
        return "error", type(e).__name__, str(e)
    if out is None:
        out = args[0]
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", KERNELS)
def test_every_kernels_argument_sets_run_to_the_same_bits_on_both_backends(name):
    ran = []

    @settings(max_examples=60)
    @given(kernel_args(name))
    def check(ak):
        args, kwargs = ak
        a, b = call(NP, name, args, kwargs), call(C, name, args, kwargs)
        if isinstance(a[0], str) or isinstance(b[0], str):
            assert a == b
            return
        ran.append(1)
        for x, y in zip(a, b):
            assert_same_bits(np.asarray(y), np.asarray(x), name)
    check()
    assert ran, f"{name}: every drawn argument set was refused"


def test_kernel_args_reach_empty_one_and_the_unrolled_remainders():
    # hypothesis.find searches the strategy until an example has the size: every size is
    # reachable, whatever order a given run draws them in
    for size in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9):
        ak = find(kernel_args("dense_forward_f32"), lambda ak: ak[0][1].shape[0] == size,
                  settings=settings(max_examples=5000, database=None))
        assert ak[0][1].shape[0] == size  # O, the unrolled dimension


def test_special_arrays_hold_specials():
    found = set()

    @settings(max_examples=200)
    @given(special_f32_arrays((16,)))
    def grab(a):
        found.update({"nan"} if np.isnan(a).any() else set())
        found.update({"inf"} if np.isinf(a).any() else set())
        found.update({"-0"} if (np.signbit(a) & (a == 0)).any() else set())
        tiny = np.finfo(np.float32).tiny
        found.update({"sub"} if ((a != 0) & (np.abs(a) < tiny)).any() else set())
    grab()
    assert found == {"nan", "inf", "-0", "sub"}


@given(multipliers_shifts(), activation_ranges())
def test_quantization_parameters_are_in_range(ms, rng):
    m, s = ms
    assert m == 0 or (1 << 30) <= m <= (1 << 31) - 1
    assert -31 <= s <= 30
    assert -128 <= rng[0] <= rng[1] <= 127


def test_assert_same_bits_reports_multi_index_hex_decimal_and_ulps():
    e = np.zeros((2, 3), np.float32)
    a = e.copy()
    a[1, 2] = np.nextafter(np.float32(0), np.float32(1)) * 3
    with pytest.raises(AssertionError) as ex:
        assert_same_bits(a, e, "y")
    msg = str(ex.value)
    assert "y: 1 of 6 values differ; first at y[1][2]: got 0x00000003 (4.20389539e-45)" in msg
    assert "expected 0x00000000 (0), +3 ulp; largest |ulp| 3" in msg


def test_assert_same_bits_nan_rule_and_signed_zero():
    a = np.array([np.nan, 0.0], np.float32)
    b = np.array([-np.nan, 0.0], np.float32)
    b.view(np.uint32)[0] |= 0x1234  # another payload
    assert_same_bits(a, b)
    with pytest.raises(AssertionError, match=r"first at array\[0\]: got 0x80000000 .*\+0 ulp"):
        assert_same_bits(np.array([-0.0], np.float32), np.array([0.0], np.float32))
    with pytest.raises(AssertionError, match="NaN against a number"):
        assert_same_bits(np.array([np.nan], np.float32), np.array([1.0], np.float32))
    with pytest.raises(AssertionError, match=r"got -128 \(0xffffff80\), expected 127 .*-255"):
        assert_bits_equal(np.array([-128], np.int8), np.array([127], np.int8))
    assert ulp_distance(np.float32(np.inf), np.finfo(np.float32).max) == 1
