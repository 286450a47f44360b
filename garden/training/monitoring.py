"""Reading the quantity a callback watches from the logs of an epoch."""

import warnings


def monitored_value(logs, monitor, epoch, skipped):
    """`logs[monitor]` as a float, or None with a warning when it is missing.

    An epoch without the quantity (no validation data, a misspelt name) is
    skipped rather than failing the run, and the warning says what was lost.

    Args:
        logs: The epoch's logs, or None.
        monitor: The logged quantity (`val_loss`, `val_accuracy`).
        epoch: The epoch, from 0.
        skipped: What the caller does without it, the end of the warning
            ("no checkpoint saved").

    Example:

    >>> monitored_value({"val_loss": 0.5}, "val_loss", 0, "skipped")
    0.5
    """
    if logs is None or monitor not in logs:
        warnings.warn(
            f"No `{monitor}` in the logs of epoch {epoch + 1} (got "
            f"{sorted(logs or {})}): {skipped}.",
            # The caller's caller, as when each callback warned itself.
            stacklevel=3,
        )
        return None
    return float(logs[monitor])
