"""``python -m harness validate PATH``: verify an artifact (checksum, shapes, manifest) without using it."""

from __future__ import annotations

from commands import _common as cli

WRITES = "writes nothing"


def main(argv=None) -> None:
    from harness.synset import load_synset, set_label

    parser = cli.Parser(prog="python -m harness validate", description=__doc__, epilog=WRITES)
    parser.add_argument("path", help="NAME.safetensors (with NAME.json beside it)")
    args = parser.parse_args(argv)
    s = load_synset(args.path)
    print(f"ok: {set_label(s)} on {s.info.name}, ipc {s.ipc}, {len(s.labels)} images "
          f"{list(s.images.shape[1:])}, {s.label_type} labels, sha256 {s.meta['sha256'][:12]}")


if __name__ == "__main__":
    cli.run_command(main)
