"""``python -m harness import SOURCE --dataset NAME``: turn a set made by any code into an artifact.

SOURCE is a ``.pt``/``.pth`` file (tensors only: ``torch.load(weights_only=True)``), a ``.npz``, a
``.safetensors`` or a folder with one sub-folder of PNGs per class (named by class name or index).
A ``.pt`` in the NCFM authors' layout (``data.pt`` = ``[images, labels]``) or DC/DSA/DM's
(``res_*.pt`` = ``{'data': [[images, labels], ...]}``, ``--index`` picks the experiment) is
recognised. The images are checked against the dataset (shape, labels, finite values), their
range is detected or given (``--range``; the manifest says which was taken and why), and the
artifact records ``external`` as its distiller and the source's name, sha256, layout and your
``--source`` text. Evaluate it with ``--synset PATH`` in evaluate, transfer, nas, debias and cl.
"""

from __future__ import annotations

from pathlib import Path

from commands import _common as cli

WRITES = "writes: NAME-<hash>.safetensors + .json under <output>/synsets/<dataset>/external/ (or --artifact PATH)"


def main(argv=None) -> None:
    from harness.importing import LAYOUTS, RANGES, ImportOptions, default_artifact, read_outside_set
    from harness.synset import load_synset, save_synset, set_label

    parser = cli.Parser(prog="python -m harness import", description=__doc__, epilog=WRITES)
    parser.add_argument("source", help="a .pt/.pth, .npz or .safetensors file, or a folder of class folders of PNGs")
    parser.add_argument("--dataset", type=cli.dataset_name, required=True, help="the dataset the set stands for (python -m harness ls)")
    parser.add_argument("--layout", type=cli.one_of(LAYOUTS, "layout"), default="auto", help=f"the .pt file's layout, one of: {', '.join(LAYOUTS)}")
    parser.add_argument("--index", type=cli.whole_number(0), help="the experiment of a dcdm file (0-based)")
    parser.add_argument("--range", dest="value_range", type=cli.one_of(RANGES, "range"), default="auto",
                        help=f"the images' values, one of: {', '.join(RANGES)} (raw: pixels in [0, 1]; normalized: "
                             f"the dataset's normalised space; auto: raw when every value is in [-0.05, 1.05])")
    parser.add_argument("--multi-formation", type=cli.POSITIVE, default=1,
                        help="rho: each image is a stored multi-formation image, decoded into rho^2")
    parser.add_argument("--name", help="the set's name in records and reports (default: the file name)")
    parser.add_argument("--source", dest="source_text", help="where the set comes from, for the manifest")
    parser.add_argument("--artifact", type=Path, help="write the artifact here instead")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    if args.artifact is not None:
        cli.check_new_file(args.artifact, "--artifact")
    options = ImportOptions(layout=args.layout, index=args.index, value_range=args.value_range,
                            multi_formation=args.multi_formation, name=args.name, source=args.source_text or "")
    synset, stem = read_outside_set(args.source, args.dataset, options)  # every check, before anything is written
    cli.use_output(args.output)
    path = save_synset(synset, args.artifact or default_artifact(synset, stem))  # the root as --output set it
    s = load_synset(path)
    meta, rho = s.meta, s.meta.get("multi_formation", 1)
    print(f"imported {set_label(s)} into {path}")
    print(f"  {s.info.name}: {len(s.labels)} training images {list(s.images.shape[1:])}, stored per class "
          f"{meta['stored_class_counts']}" + (f", each decoded into {rho**2} (multi-formation {rho})"
                                               if rho > 1 else "")
          + f", {s.label_type} labels, {meta['stored_bytes']['total']} bytes stored")
    print(f"  range: {meta['value_range']['taken']} ({meta['value_range']['why']})")
    print(f"  origin: {meta['origin']['file']} ({meta['origin']['layout']}), sha256 {meta['origin']['sha256'][:12]}")


if __name__ == "__main__":
    cli.run_command(main)
