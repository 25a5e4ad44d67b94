"""``python -m harness.evaluate``: a thin entry point; the command is :mod:`commands.evaluate`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("evaluate")
