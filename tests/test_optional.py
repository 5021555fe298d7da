"""gnnx._optional.require: an optional dependency imported where a feature needs it, or an
ImportError naming the feature and the pip package."""
import math

import pytest

from gnnx._optional import require


def test_require_imports_the_module():
    assert require("math", "anything") is math


def test_require_names_the_feature_and_the_package():
    with pytest.raises(ImportError, match=r"^ToSLIC needs scikit-image: pip install scikit-image$"):
        require("no_such_module_here.segmentation", "ToSLIC", "scikit-image")
    with pytest.raises(ImportError, match=r"^X needs no_such_module_here: pip install no_such_module_here \(why\)$"):
        require("no_such_module_here.sub", "X", note=" (why)")
