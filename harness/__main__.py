"""``python -m harness ls`` lists every plugin; ``python -m harness validate PATH`` checks an artifact."""

from __future__ import annotations

import argparse

from harness.cli import run_command


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ls", help="list datasets, architectures, distillers, tasks and protocols")
    validate = sub.add_parser("validate", help="verify a synthetic-set artifact (checksum, shapes, manifest)")
    validate.add_argument("path")
    args = parser.parse_args(argv)
    if args.command == "ls":
        from distillers import DISTILLERS
        from harness.data.core import dataset_names
        from harness.models import MODELS
        from harness.protocol import PROTOCOLS
        from tasks import TASKS

        for title, names in [("datasets", dataset_names()), ("architectures", MODELS.names()),
                             ("distillers", DISTILLERS.names()), ("tasks", TASKS.names()),
                             ("protocols", [f"{p.name} ({p.fingerprint()})" for p in PROTOCOLS.values()])]:
            print(f"{title}: {', '.join(names)}")
    else:
        from harness.synset import load_synset

        s = load_synset(args.path)
        print(f"ok: {s.meta.get('distiller')} on {s.info.name}, ipc {s.ipc}, {len(s.labels)} images "
              f"{list(s.images.shape[1:])}, {s.label_type} labels, sha256 {s.meta['sha256'][:12]}")


if __name__ == "__main__":
    run_command(main)
