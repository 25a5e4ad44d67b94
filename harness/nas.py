"""``python -m harness.nas``: a thin entry point; the command is :mod:`commands.nas`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("nas")
