"""NumPy twin of csrc/optim.c: in-place updates of a flat float32 parameter buffer."""
import numpy as np

from . import _checks as ck


def check_update(theta, other, other_name):
    ck.f32("theta", theta, 1)
    ck.writeable("theta", theta)
    ck.f32(other_name, other, 1)
    ck.same_shape("theta", theta, other_name, other)
    ck.disjoint(other_name, other, "theta", theta)
    ck.sizes(("theta", theta.shape))


def sgd_step_f32(theta, g, lr):
    """theta[j] = theta[j] - lr*g[j], in place (product rounded, then subtracted). Returns None."""
    check_update(theta, g, "g")
    lr = ck.float_param("lr", lr)
    theta -= lr * g


def reptile_interpolate_f32(theta, phi, eps):
    """theta[j] = theta[j] + eps*(phi[j] - theta[j]), in place, each operation rounded:
    d = phi - theta, then theta + eps*d. Returns None."""
    check_update(theta, phi, "phi")
    eps = ck.float_param("eps", eps)
    d = phi - theta
    theta += eps * d
