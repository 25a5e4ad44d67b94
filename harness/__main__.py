"""``python -m harness <command> ...``: a thin entry point; the commands are in :mod:`commands`."""

if __name__ == "__main__":
    from commands import main

    main()
