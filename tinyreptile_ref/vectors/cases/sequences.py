"""Golden-vector cases for multi-step sequences: MLP forward, loss, backward, SGD and Reptile over several rounds, built from the kernels."""
import numpy as np

from ...backend import numpy_backend as nb
from ..format import f32_param
from .common import F32, generator


def _mlp_views(theta, I, H, O):
    """w1 [H, I], b1 [H], w2 [O, H], b2 [O]: views into the flat parameter buffer, in that
    order (the layout the runner's handler uses)."""
    sizes = (H * I, H, O * H, O)
    ends = np.cumsum(sizes)
    w1, b1, w2, b2 = (theta[e - s:e] for s, e in zip(sizes, ends))
    return w1.reshape(H, I), b1, w2.reshape(O, H), b2


def _mlp_inner_step(phi, x, target, I, H, O, activation, loss, lr):
    """One SGD step of a two-layer perceptron on (x, target), in place on phi; returns the loss.
    dense -> activation -> dense -> loss; backward in reverse; phi -= lr * grad (one flat SGD)."""
    w1, b1, w2, b2 = _mlp_views(phi, I, H, O)
    hpre = nb.dense_forward_f32(x, w1, b1)                       # [B, H]
    h = nb.tanh_forward_f32(hpre) if activation == "tanh" else nb.relu_forward_f32(hpre)
    y = nb.dense_forward_f32(h, w2, b2)                          # [B, O]
    if loss == "mse":
        value, dy = nb.mse_loss_f32(y, target)
    else:
        value, dy = nb.softmax_xent_loss_f32(y, target)
    dh, dw2, db2 = nb.dense_backward_f32(dy, h, w2)
    dhpre = nb.tanh_backward_f32(dh, h) if activation == "tanh" else nb.relu_backward_f32(dh, hpre)
    _, dw1, db1 = nb.dense_backward_f32(dhpre, x, w1)            # dx of the first layer: unused
    grad = np.concatenate([dw1.ravel(), db1, dw2.ravel(), db2])
    nb.sgd_step_f32(phi, grad, lr)
    return np.float32(value)


@generator("reptile_mlp_f32")
def gen_reptile_mlp_f32(g):
    """TinyReptile on one device, end to end: for each round, phi = theta, `steps` SGD steps of
    a two-layer perceptron on that round's task, then theta = theta + eps*(phi - theta).
    Expected: the loss and phi after every inner step and theta after every round, so that
    drift is caught at the step where it starts."""
    r = g.rng

    def case(slug, comment, flags, B, I, H, O, steps, rounds, lr, eps, activation, loss):
        P = H * I + H + O * H + O
        theta0 = r.f32((P,), -5, -1)
        x = r.f32((rounds, steps, B, I), -2, 1)
        if loss == "mse":
            # A task per round: t = a*x + c*x*x*x (float32, exact-rounding operations only).
            a = r.f32((rounds, 1, 1, 1), -1, 0)
            c = r.f32((rounds, 1, 1, 1), -5, -3)
            target = a * x + c * (x * x * x)
            target = np.ascontiguousarray(target[..., :O] if O <= I else np.repeat(target[..., :1], O, -1))
        else:
            target = r.ints((rounds, steps, B), 0, O - 1)
        theta = theta0.copy()
        losses, phis, thetas = [], [], []
        for k in range(rounds):
            phi = theta.copy()
            for s in range(steps):
                losses.append(_mlp_inner_step(phi, x[k, s], target[k, s], I, H, O, activation, loss, lr))
                phis.append(phi.copy())
            nb.reptile_interpolate_f32(theta, phi, eps)
            thetas.append(theta.copy())
        g.case(slug, comment, flags + ["multi-step"],
               dict(B=B, I=I, H=H, O=O, steps=steps, rounds=rounds, lr=f32_param(lr),
                    eps=f32_param(eps), activation=activation, loss=loss),
               dict(theta=theta0, x=x, target=target),
               dict(loss=np.array(losses, F32), phi=np.array(phis, F32),
                    theta=np.array(thetas, F32)))

    case("sine-tanh-mse", "regression, 1-16-1 tanh MLP, MSE, 3 rounds of 4 SGD steps",
         ["basic"], 5, 1, 16, 1, 4, 3, 0.02, 0.5, "tanh", "mse")
    case("classify-relu-xent", "classification, 6-12-4 ReLU MLP, softmax cross-entropy, "
         "3 rounds of 3 SGD steps", ["basic"], 8, 6, 12, 4, 3, 3, 0.1, 0.3, "relu", "softmax_xent")
    case("long-run", "drift: 1-32-1 tanh MLP, MSE, 8 rounds of 5 SGD steps (40 updates)",
         ["model size"], 4, 1, 32, 1, 5, 8, 0.01, 0.25, "tanh", "mse")
    case("paper-head", "10-class head on 24 features, ReLU, 4 rounds of 4 steps",
         ["model size"], 10, 24, 32, 10, 4, 4, 0.05, 0.5, "relu", "softmax_xent")
