"""``python -m harness ls``: list datasets, architectures, distillers, tasks, profiles and protocols.

A protocol's fingerprint is shown as defined and, where it differs, as run on digit datasets
(DSA leaves out the flip there), which is the fingerprint their records carry.
"""

from __future__ import annotations

from commands import _common as cli

WRITES = "writes nothing"


def main(argv=None) -> None:
    from distillers import DISTILLERS
    from harness.data.core import dataset_names, registered_info
    from harness.models import MODELS
    from harness.protocol import PROTOCOLS
    from tasks import TASKS
    from tasks.transfer import PROFILES

    cli.Parser(prog="python -m harness ls", description=__doc__, epilog=WRITES).parse_args(argv)
    digits = registered_info("mnist")

    def protocol(p) -> str:
        on_digits = p.for_dataset(digits).fingerprint()
        return f"{p.name} ({p.fingerprint()}" + (f"; on digits {on_digits}" if on_digits != p.fingerprint() else "") + ")"

    for title, names in [("datasets", dataset_names()), ("architectures", MODELS.names()),
                         ("distillers", DISTILLERS.names()), ("tasks", TASKS.names()),
                         ("transfer profiles", [f"{n} (protocol {p.protocol.name}, IPC {p.ipc})" for n, p in PROFILES.items()]),
                         ("protocols", [protocol(p) for p in PROTOCOLS.values()])]:
        print(f"{title}: {', '.join(names)}")


if __name__ == "__main__":
    cli.run_command(main)
