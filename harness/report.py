"""``python -m harness.report``: a thin entry point; the command is :mod:`commands.report`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("report")
