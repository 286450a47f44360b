"""The cells' equations in NumPy, written apart from the layers to check them.

Column names follow the lectures (W_x*, W_h*, b_*); the weights come in
Keras's layout (x @ kernel), split into gate blocks here by hand.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def simple_rnn_step(x, h, kernel, recurrent_kernel, bias, phi=np.tanh):
    """H_t = phi(X_t W_xh + H_{t-1} W_hh + b_h)."""
    return phi(x @ kernel + h @ recurrent_kernel + bias)


def gru_step(x, h, kernel, recurrent_kernel, bias, reset_after, h_dropped=None):
    """The GRU equations; gate blocks z, r, h as in Keras.

    With recurrent dropout, `h_dropped` (H_{t-1} * m_h) enters the products
    and H_{t-1} itself the final mix.
    """
    h_dropped = h if h_dropped is None else h_dropped
    n = h.shape[-1]
    w_xz, w_xr, w_xh = kernel[:, :n], kernel[:, n : 2 * n], kernel[:, 2 * n :]
    w_hz = recurrent_kernel[:, :n]
    w_hr = recurrent_kernel[:, n : 2 * n]
    w_hh = recurrent_kernel[:, 2 * n :]
    if reset_after:
        b_x, b_h = bias[0], bias[1]
    else:
        b_x, b_h = bias, np.zeros_like(bias)
    b_xz, b_xr, b_xh = b_x[:n], b_x[n : 2 * n], b_x[2 * n :]
    b_hz, b_hr, b_hh = b_h[:n], b_h[n : 2 * n], b_h[2 * n :]
    r = sigmoid(x @ w_xr + b_xr + h_dropped @ w_hr + b_hr)
    z = sigmoid(x @ w_xz + b_xz + h_dropped @ w_hz + b_hz)
    if reset_after:
        candidate = np.tanh(x @ w_xh + b_xh + r * (h_dropped @ w_hh + b_hh))
    else:
        candidate = np.tanh(x @ w_xh + (r * h_dropped) @ w_hh + b_xh)
    return z * h + (1.0 - z) * candidate


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """The LSTM equations; gate blocks i, f, c, o as in Keras."""
    n = h.shape[-1]

    def block(k):
        cols = slice(k * n, (k + 1) * n)
        return x @ kernel[:, cols] + h @ recurrent_kernel[:, cols] + bias[cols]

    i = sigmoid(block(0))
    f = sigmoid(block(1))
    c_candidate = np.tanh(block(2))
    o = sigmoid(block(3))
    c = f * c + i * c_candidate
    return o * np.tanh(c), c


def run_sequence(step, xs, states, mask=None):
    """Runs `step(x_t, *states) -> states` over time; masked steps keep states.

    Returns the outputs (the first state) at every step and the final states.
    """
    outputs = []
    for t in range(xs.shape[1]):
        new = step(xs[:, t], *states)
        new = new if isinstance(new, tuple) else (new,)
        if mask is not None:
            keep = mask[:, t : t + 1]
            new = tuple(np.where(keep, a, b) for a, b in zip(new, states))
        states = new
        outputs.append(states[0])
    return np.stack(outputs, axis=1), states
