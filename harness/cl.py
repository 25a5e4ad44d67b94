"""``python -m harness.cl``: a thin entry point; the command is :mod:`commands.cl`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("cl")
