# SPDX-License-Identifier: MIT
"""Every test module imports the package that ctest means to test: TG_EXPECT_PACKAGE
names its directory (the build tree's build/python/tensorgrad, or an install's)."""
import os

import pytest


def pytest_configure(config):
    import tensorgrad
    want = os.environ.get("TG_EXPECT_PACKAGE")
    here = os.path.realpath(os.path.dirname(tensorgrad.__file__))
    if want and here != os.path.realpath(want):
        raise pytest.UsageError("imported tensorgrad from %s, expected %s" % (here, want))
