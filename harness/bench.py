"""``python -m harness.bench``: a thin entry point; the command is :mod:`commands.bench`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("bench")
