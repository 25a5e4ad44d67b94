"""``python -m harness.debias``: a thin entry point; the command is :mod:`commands.debias`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("debias")
