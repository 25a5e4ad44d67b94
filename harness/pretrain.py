"""``python -m harness.pretrain``: a thin entry point; the command is :mod:`commands.pretrain`."""

if __name__ == "__main__":
    from commands import entry_point

    entry_point("pretrain")
