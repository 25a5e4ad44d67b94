"""``python -m harness.pretrain --dataset mnist --preset cpu-2epoch``: fill the pretrained-model cache.

Trains the networks of a named pretraining recipe (``--preset``) on the real training split and
keeps their initial and final weights, exactly where a distiller whose config names that recipe
(``pretrain=NAME`` for NCFM/CSDM's hybrid extractor and the selection baselines' embedding,
``critic_pretrain=NAME`` for the ED/MMD/de-biasing critics) looks for them; a network already cached
is reused.
"""

from __future__ import annotations

from commands import _common as cli
from harness.data import DEFAULT_DATASET
from harness.errors import HarnessError

WRITES = ("writes: <output>/cache/pretrained/<dataset>/<arch>/<recipe cache key>/seed<k>/ "
          "(init.safetensors, final.safetensors, manifest.json naming the recipe, its fingerprint and the "
          "classes the network saw)")


def class_ids(text: str) -> tuple[int, ...]:
    """``0,1,2`` -> (0, 1, 2), each a whole number >= 0, none repeated."""
    return tuple(cli.whole_number(0)(v) for v in cli.names()(text))


class_ids.kind = "whole-list"


def main(argv=None) -> None:
    from distillers import BUDGETS
    from harness.data.core import dataset_facts
    from harness.models import MODELS
    from harness.pretrained import DEFAULT_PRESET, PRESETS, get_recipe, pretrain_recipe

    parser = cli.Parser(prog="python -m harness.pretrain", description=__doc__, epilog=WRITES)
    cli.add_dataset(parser, DEFAULT_DATASET)
    parser.add_argument("--arch", type=cli.one_of(MODELS), default="convnet", help=f"one of: {', '.join(MODELS.names())}")
    parser.add_argument("--preset", type=cli.one_of(PRESETS, "pretraining recipe"), default=DEFAULT_PRESET,
                        help=f"the pretraining recipe, one of: {', '.join(PRESETS)} (default {DEFAULT_PRESET}: "
                             f"what every distiller loads unless its config names another)")
    parser.add_argument("--budget", type=cli.one_of(BUDGETS), default="quick",
                        help="the networks of a distillation budget: quick (1 network on 10,000 images, what "
                             "harness.distill's default loads: seconds) or paper (the preset's count on every "
                             "image: what --budget paper loads; minutes per network on a CPU)")
    parser.add_argument("--count", type=cli.whole_number(1, 1000), default=None,
                        help="number of networks (seeds 0..K-1, a distiller's 'pretrained'), over the budget")
    parser.add_argument("--images", type=cli.whole_number(0), default=None,
                        help="train each network on this many seeded random training images (a distiller's "
                             "'pretrain_images'; 0: all), over the budget")
    parser.add_argument("--classes", type=class_ids, default=(),
                        help="train on these class ids only, e.g. 0,1 (a distiller's 'pretrain_classes', as "
                             "continual learning sets it; default: every class)")
    parser.add_argument("--epochs", type=cli.POSITIVE, default=None,
                        help="override the preset's epochs: a recipe of its own, cached under its own key, "
                             "which no distiller loads (for measuring a longer recipe)")
    cli.add_run_flags(parser, progress=False)
    args = parser.parse_args(argv)
    imbalance = cli.imbalance_from_args(args)
    facts = dataset_facts(args.dataset, imbalance)
    outside = sorted(set(args.classes) - set(range(facts.info.num_classes)))
    if outside:
        raise HarnessError(f"--classes {','.join(map(str, outside))} not in {args.dataset} (ids 0..{facts.info.num_classes - 1})")
    if args.images is not None and args.images > sum(facts.counts):
        raise HarnessError(f"--images {args.images} is more than {args.dataset}'s {sum(facts.counts)} training images: "
                           f"use at most that, or 0 for all")
    cli.use_output(args.output)
    device = cli.resolve_device(args.device)
    budget = dict(BUDGETS.get(args.budget))
    count = args.count or budget.get("pretrained", 0)
    images = args.images if args.images is not None else budget.get("pretrain_images", -1)
    recipe = get_recipe(args.preset, count, images, args.classes)
    if args.epochs is not None:
        recipe = recipe.with_overrides(name=f"{recipe.name}-{args.epochs}epochs", epochs=args.epochs)
    for folder in pretrain_recipe(args.dataset, recipe, args.arch, device, imbalance):
        print(folder)


if __name__ == "__main__":
    cli.run_command(main)
