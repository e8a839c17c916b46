# SPDX-License-Identifier: MIT
"""tensorgrad's random number generator in pure Python (src/core/rng.c), so the
reference scripts can start PyTorch from exactly the values a C program draws.

xoshiro256** seeded through splitmix64, the same uint64 arithmetic as the C code;
math.log / math.sqrt / math.cos / math.sin call the same libm (glibc) as the C
library, so on the machine that runs the tests the doubles agree bit for bit.

    import tg_rng
    tg_rng.manual_seed(0)
    x = tg_rng.randn(6)                  # as tg_randn(1, (int64_t[]){6}) after tg_manual_seed(0)
    w, b = tg_rng.linear_init(3, 1)      # as tg_linear_new(3, 1, true)

Rules (the header comment of "random numbers" in include/tensorgrad.h):
  - seed: s[0..3] = the first four splitmix64 outputs from state = seed;
  - uniform = (next >> 11) * 2^-53;
  - one Box-Muller draw takes u1 then u2: r = sqrt(-2 log(1 - u1)),
    theta = (2 pi) u2, giving (r cos theta, r sin theta);
  - Rng.normal() (tg_rng_normal) makes one draw and returns its cosine;
  - a normal fill (tg_randn) makes one draw per two elements, cosine then sine;
    an odd length gives the last element a draw's cosine alone;
  - a uniform fill on [lo, hi) is lo + (hi - lo) * u per element;
  - randint(lo, hi) = lo + next % (hi - lo).
"""
import math

MASK64 = (1 << 64) - 1
TWO_PI = 2.0 * math.pi


def _splitmix64(state):
    """Returns (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class Rng:
    """A tg_rng: four uint64 words of state."""

    def __init__(self, seed=0):
        self.seed(seed)

    def seed(self, seed):
        x = seed & MASK64
        self.s = []
        for _ in range(4):
            x, out = _splitmix64(x)
            self.s.append(out)

    def copy(self):
        r = Rng.__new__(Rng)
        r.s = list(self.s)
        return r

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return float(self.next() >> 11) * 2.0 ** -53

    def normal_pair(self):
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        theta = TWO_PI * u2
        return r * math.cos(theta), r * math.sin(theta)

    def normal(self):
        return self.normal_pair()[0]

    def randint(self, lo, hi):
        assert hi > lo
        return lo + self.next() % (hi - lo)

    # tensor fills: n values, row-major, as tg_rand / tg_rand_uniform / tg_randn
    def rand(self, n):
        return [self.uniform() for _ in range(n)]

    def rand_uniform(self, n, lo, hi):
        return [lo + (hi - lo) * self.uniform() for _ in range(n)]

    def randn(self, n):
        out = []
        while len(out) + 1 < n:
            out.extend(self.normal_pair())
        if len(out) < n:
            out.append(self.normal_pair()[0])
        return out


# ----------------------------------------------------- the default generator

_default = Rng(0)


def manual_seed(seed):
    """tg_manual_seed: reseeds the default generator and returns it."""
    _default.seed(seed)
    return _default


def default_rng():
    return _default


def rand(n):
    return _default.rand(n)


def rand_uniform(n, lo, hi):
    return _default.rand_uniform(n, lo, hi)


def randn(n):
    return _default.randn(n)


def linear_init(in_features, out_features, bias=True, rng=None):
    """tg_linear_new's initialization: weight [out, in] row-major, then bias
    [out], each uniform on [-1/sqrt(in), 1/sqrt(in)) from the default generator
    (or rng).  Returns (weight as a flat list, bias list or None)."""
    r = rng if rng is not None else _default
    bound = 1.0 / math.sqrt(in_features)
    w = r.rand_uniform(out_features * in_features, -bound, bound)
    b = r.rand_uniform(out_features, -bound, bound) if bias else None
    return w, b
