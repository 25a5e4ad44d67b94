"""User-facing errors: the command line prints them as one line and exits with status 2."""


class HarnessError(Exception):
    """Bad input or a missing resource; the message says what is wrong and how to fix it."""
