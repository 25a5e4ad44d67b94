"""``python -m harness.distill``: a thin entry point; the command is :mod:`commands.distill`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("distill")
