"""``python -m harness import-pool FOLDER --dataset NAME``: bring pretrained networks made by other code.

FOLDER is the folder the NCFM authors' ``pretrain/pretrain_script.py`` writes (``premodel<k>_init.pth.tar``
and ``premodel<k>_trained.pth.tar``, read as tensors only). Every network is checked against the
harness's ``--arch`` for the dataset before anything is written; then the pool is cached under the
name it prints, ``imported-<sha256>``, and any distiller that loads pretrained networks takes it with
``--set pretrain=imported-<sha256>`` (its manifest then names the pool, its files' sha256 and your
``--source`` text). See :mod:`harness.importing.pool`.
"""

from __future__ import annotations

from pathlib import Path

from commands import _common as cli

WRITES = "writes: <output>/cache/pretrained/<dataset>/<arch>/imported-<sha256>/ and <output>/cache/pretrained/imported/"


def main(argv=None) -> None:
    from harness.importing.pool import POOL_LAYOUTS, import_pool, read_ncfm_pool
    from harness.models.registry import MODELS

    parser = cli.Parser(prog="python -m harness import-pool", description=__doc__, epilog=WRITES)
    parser.add_argument("path", type=Path, help="the folder of the pool (the NCFM authors' pretrain_dir)")
    parser.add_argument("--dataset", type=cli.dataset_name, required=True, help="the dataset the networks were trained on")
    parser.add_argument("--arch", type=cli.one_of(MODELS, "architecture"), default="convnet",
                        help="the harness architecture the networks are (default convnet)")
    parser.add_argument("--layout", type=cli.one_of(POOL_LAYOUTS, "layout"), default="ncfm",
                        help=f"the folder's layout, one of: {', '.join(POOL_LAYOUTS)}")
    parser.add_argument("--source", dest="source_text", help="where the networks come from, for the manifest")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    read_ncfm_pool(args.path, args.dataset, args.arch)  # every check, before anything is written
    cli.use_output(args.output)
    pool = import_pool(args.path, args.dataset, args.arch, args.layout, args.source_text or "")
    print(f"imported {pool.available} networks as {pool.name} ({pool.dataset} / {pool.arch})")
    print(f"  use: --set pretrain={pool.name}")


if __name__ == "__main__":
    cli.run_command(main)
