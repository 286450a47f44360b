import numpy as np
import pytest

from garden.checks import check_positive_integer, is_positive_integer


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_integers_pass(value):
    assert is_positive_integer(value)
    check_positive_integer("units", value)


@pytest.mark.parametrize("value", [0, -3, True, 2.0, "4", None])
def test_others_are_refused_by_name(value):
    assert not is_positive_integer(value)
    with pytest.raises(ValueError, match=r"`units`, expected a positive integer, got"):
        check_positive_integer("units", value)


def test_none_where_allowed():
    check_positive_integer("max_length", None, allow_none=True)
    with pytest.raises(ValueError, match="positive integer or None, got 0"):
        check_positive_integer("max_length", 0, allow_none=True)
