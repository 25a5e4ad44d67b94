"""``python -m harness.transfer``: a thin entry point; the command is :mod:`commands.transfer`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("transfer")
