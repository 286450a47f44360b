"""The error a user can fix: a flag, a file or data they gave."""


class UserError(Exception):
    """A problem in what the user gave, not a bug in the garden.

    Its message is one sentence that names the flag or file and what was
    expected. A recipe run prints it on one line, without a traceback, and
    exits with status 1 (`garden.training.run_record.recorded`); tracebacks
    are for bugs.
    """
