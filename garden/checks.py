"""Checks of argument values shared by the flags and the library.

Pure Python, so that `garden.cli` (parsed before Keras loads) and every
layer, pipeline and callback can import it.
"""

import numbers


def is_positive_integer(value):
    """Whether `value` is an integer (NumPy's included, bools not) of at least 1."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and value >= 1
    )


def check_positive_integer(name, value, allow_none=False):
    """Raises a `ValueError` naming `name` unless `value` is a positive integer.

    Args:
        name: The argument's name, for the message.
        value: Its value.
        allow_none: Whether None is also accepted.
    """
    if value is None and allow_none:
        return
    if not is_positive_integer(value):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive "
            f"integer{' or None' if allow_none else ''}, got {value!r}."
        )
