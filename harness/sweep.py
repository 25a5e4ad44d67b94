"""``python -m harness.sweep``: a thin entry point; the command is :mod:`commands.sweep`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("sweep")
