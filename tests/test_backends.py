"""The two backends expose the same kernels with the same signatures and raise alike."""
import inspect

import numpy as np
import pytest

import tinyreptile_ref
from tinyreptile_ref import ParameterError, get_backend
from tinyreptile_ref import backend


def test_both_backends_expose_the_same_kernels_with_the_same_signatures(cb, npb):
    names = backend.kernel_names()
    assert "dense_forward_f32" in names and "sgd_step_f32" in names
    for name in names:
        assert inspect.signature(getattr(cb, name)) == inspect.signature(getattr(npb, name)), name
    c_names = sorted(n for n in vars(cb) if n.endswith(backend.KERNEL_SUFFIXES) and callable(getattr(cb, n)))
    assert c_names == names


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ParameterError, match="backend: 'cuda'"):
        get_backend("cuda")


def test_status_strings_come_from_the_c_library(cb):
    lib = cb.lib
    codes = [lib.TR_OK, lib.TR_ERR_NULL, lib.TR_ERR_SHAPE, lib.TR_ERR_PARAM, lib.TR_ERR_LABEL,
             lib.TR_ERR_OVERFLOW, lib.TR_ERR_BUFFER]
    texts = [cb.status_str(c) for c in codes]
    assert texts[0] == "ok"
    assert len(set(texts)) == len(texts)
    assert cb.status_str(12345) == "unknown status code"


def test_c_kernels_return_status_codes_for_null_and_negative_sizes(cb):
    lib, ffi = cb.lib, cb.ffi
    y = np.zeros(4, np.float32)
    p = ffi.from_buffer("float[]", y)
    assert lib.tr_dense_forward_f32(ffi.NULL, p, p, p, 1, 1, 1) == lib.TR_ERR_NULL
    assert lib.tr_dense_forward_f32(p, p, p, p, -1, 1, 1) == lib.TR_ERR_SHAPE
    assert lib.tr_dense_forward_f32(p, p, p, p, 2**16, 2**16, 1) == lib.TR_ERR_SHAPE
    assert lib.tr_dense_backward_f32(p, ffi.NULL, p, p, p, p, 1, 1, 1) == lib.TR_ERR_NULL
    assert lib.tr_sgd_step_f32(p, ffi.NULL, 1.0, 1) == lib.TR_ERR_NULL
    assert lib.tr_sgd_step_f32(p, p, 1.0, -1) == lib.TR_ERR_SHAPE
    assert lib.tr_reptile_interpolate_f32(ffi.NULL, p, 1.0, 1) == lib.TR_ERR_NULL


def test_package_exposes_its_version():
    assert tinyreptile_ref.__version__
