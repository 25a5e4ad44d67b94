"""``python -m harness.pretrain --dataset mnist --arch convnet --count 5``: fill the pretrained-model cache.

Trains each model on the real training split under the pretraining recipe and keeps its initial
and final weights, exactly where the distillers (NCFM/CSDM's hybrid extractor, the classifier
critics, the selection baselines) look for them; a model already cached is reused.
"""

from __future__ import annotations

from commands import _common as cli
from harness.data import DEFAULT_DATASET

WRITES = ("writes: <output>/cache/pretrained/<dataset>/<arch>/<recipe fingerprint>/seed<k>/ "
          "(init.safetensors, final.safetensors, manifest.json)")


def main(argv=None) -> None:
    from harness.models import MODELS
    from harness.pretrained import DEFAULT_RECIPE, get_pretrained, pretrained_dir

    parser = cli.Parser(prog="python -m harness.pretrain", description=__doc__, epilog=WRITES)
    cli.add_dataset(parser, DEFAULT_DATASET)
    parser.add_argument("--arch", default="convnet", help=f"one of: {', '.join(MODELS.names())}")
    parser.add_argument("--count", type=cli.POSITIVE, default=1, help="number of models (seeds 0..K-1)")
    parser.add_argument("--epochs", type=cli.POSITIVE, default=DEFAULT_RECIPE.epochs, help="training epochs per model")
    cli.add_run_flags(parser, progress=False)
    args = parser.parse_args(argv)
    MODELS.get(args.arch)
    imbalance = cli.imbalance_from_args(args)
    cli.use_output(args.output)
    recipe = DEFAULT_RECIPE.with_overrides(epochs=args.epochs)
    device = cli.resolve_device(args.device)
    for seed in range(args.count):
        get_pretrained(args.dataset, args.arch, seed, recipe, device, imbalance)
        print(pretrained_dir(args.dataset, args.arch, seed, recipe, imbalance))


if __name__ == "__main__":
    cli.run_command(main)
