"""``python -m harness.sweep``: expand a grid into result cells and run the missing ones as jobs.

A cell is (distiller, dataset, IPC, architecture, evaluation seed) under one protocol and one
distillation budget. Cells already recorded are skipped before anything is submitted; each job
distils (reusing an identical cached artifact), evaluates its cell and appends the record to
``<output>/records/evaluate.jsonl``, the same store ``python -m harness.evaluate`` uses. Jobs go
through submitit: its local executor by default (one job at a time, ``--parallel N`` for more),
Slurm with ``--executor slurm --partition NAME`` (see README "Sweeps on a cluster").

The grid comes from flags or a YAML file (``--grid grid.yaml``) with the same keys::

    distillers: [dm, random]
    datasets: [mnist]
    ipc: [1, 10]
    archs: [convnet]
    seeds: 3                 # evaluation seeds 0..2
    protocol: quick
    distill: {iterations: 200}
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from commands import _common as cli
from harness.errors import HarnessError
from harness.paths import output_root

GRID_KEYS = ("distillers", "datasets", "ipc", "archs", "seeds", "protocol", "distill", "imbalance", "device")
WRITES = ("writes: one record per cell to <output>/records/evaluate.jsonl (as harness.evaluate), the sets under "
          "<output>/synsets/, job logs under <output>/sweeps/submitit/")


@dataclass(frozen=True)
class SweepCell:
    distiller: str
    dataset: str
    ipc: int
    arch: str
    seed: int
    protocol: str = "quick"
    distill: dict = field(default_factory=dict, hash=False)
    imbalance: float = 100.0
    device: str = "auto"

    def label(self) -> str:
        return f"{self.distiller}/{self.dataset}/ipc{self.ipc}/{self.arch}/seed{self.seed}"


LISTS = {"distillers": str, "datasets": str, "archs": str, "ipc": int}  # one value or a list of them
SCALARS = {"protocol": str, "device": str, "imbalance": (int, float), "distill": dict}  # one value each


def expand(grid: dict) -> list[SweepCell]:
    """Every combination of the grid's lists, in a stable order; a value of the wrong type (a list
    where one value belongs, a name where a number does), an empty list, a repeated member or a
    given imbalance out of range is refused in one line."""
    from harness.data.longtail import is_long_tailed

    def kind(types) -> str:
        return {str: "a name", int: "a whole number", dict: "a mapping of settings"}.get(types, "a number")

    def as_list(key, default=None):
        value = grid.get(key, default)
        if value is None:
            raise HarnessError(f"the sweep grid needs '{key}'")
        values = value if isinstance(value, list) else [value]
        wrong = [v for v in values if not isinstance(v, LISTS.get(key, int)) or isinstance(v, bool)]
        if wrong or not values or len(set(map(str, values))) < len(values):
            raise HarnessError(f"the sweep grid's '{key}' must be {kind(LISTS.get(key, int))} or a list of distinct "
                               f"ones, got {value!r}")
        return values

    for key, types in SCALARS.items():
        if key in grid and (not isinstance(grid[key], types) or isinstance(grid[key], bool)):
            raise HarnessError(f"the sweep grid's '{key}' must be {kind(types)}, got {grid[key]!r}")
    for dataset in as_list("datasets", "mnist") if "imbalance" in grid else ():
        if is_long_tailed(dataset):
            cli.check_imbalance(dataset, grid["imbalance"])
    seeds = grid.get("seeds", 3)
    seeds = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else as_list("seeds")
    combos = itertools.product(as_list("distillers"), as_list("datasets", "mnist"), as_list("ipc", 10),
                               as_list("archs", "convnet"), seeds)
    return [SweepCell(d, ds, ipc, a, s, grid.get("protocol", "quick"), dict(grid.get("distill") or {}),
                      float(grid.get("imbalance", 100.0)), grid.get("device", "auto"))
            for d, ds, ipc, a, s in combos]


def _artifact(cell: SweepCell) -> Path:
    from distillers import artifact_path, create_distiller

    config = asdict(create_distiller(cell.distiller, cell.distill).config)
    from harness.data.longtail import effective_imbalance

    return artifact_path(cell.distiller, config, cell.dataset, effective_imbalance(cell.dataset, cell.imbalance),
                         cell.ipc, 0)


def is_done(cell: SweepCell) -> bool:
    """Recorded already? Only possible when its artifact exists (the record names its checksum)."""
    from harness.evaluation import default_store, read_synset, result_base
    from harness.models.fingerprint import arch_cell
    from harness.protocol import PROTOCOLS

    path = _artifact(cell)
    if not path.exists():
        return False
    synset, sha = read_synset(path, cell.dataset)
    base = result_base(synset, sha, PROTOCOLS.get(cell.protocol))
    return default_store("evaluate").has({**base, **arch_cell(cell.arch, synset.info), "seed": cell.seed})


def run_cell(cell: SweepCell, output: str) -> dict:
    """The job body: distil (cached) and evaluate one cell; returns its record."""
    os.environ["DD_OUTPUT"] = output  # the job runs in its own process (or on another machine)
    from distillers import distil
    from harness.evaluation import default_store, evaluate_synset, read_synset
    from harness.protocol import PROTOCOLS

    device = cli.resolve_device(cell.device)
    path = distil(cell.distiller, cell.dataset, cell.ipc, 0, cell.distill, device, cell.imbalance, progress=False)
    synset, sha = read_synset(path, cell.dataset)
    records = evaluate_synset(synset, sha, [cell.arch], [cell.seed], PROTOCOLS.get(cell.protocol),
                              default_store("evaluate"), device, progress=False)
    return records[0]


def make_executor(args, folder: Path):
    import submitit

    if args.executor == "local":
        return submitit.LocalExecutor(folder=folder)
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params = {"timeout_min": args.timeout_min, "slurm_array_parallelism": args.parallel}
    if args.partition:
        params["slurm_partition"] = args.partition
    if args.gpus:
        params["gpus_per_node"] = args.gpus
    executor.update_parameters(**params)
    return executor


def load_grid(args) -> dict:
    grid = {}
    if args.grid:
        import yaml

        try:
            grid = yaml.safe_load(Path(args.grid).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise HarnessError(f"cannot read the grid {args.grid}: {exc}") from None
        if not isinstance(grid, dict):
            raise HarnessError(f"the grid file {args.grid} must hold a YAML mapping of {', '.join(GRID_KEYS)}, "
                               f"got a {type(grid).__name__}")
        unknown = set(grid) - set(GRID_KEYS)
        if unknown:
            raise HarnessError(f"unknown grid keys {sorted(unknown)} in {args.grid}: use {', '.join(GRID_KEYS)}")
    for key in ("distillers", "datasets", "archs", "ipc"):  # flags override the file
        if getattr(args, key):
            grid[key] = getattr(args, key)
    for key in ("seeds", "protocol", "device"):
        if getattr(args, key) is not None:
            grid[key] = getattr(args, key)
    if args.iterations:
        grid.setdefault("distill", {})["iterations"] = args.iterations
    return grid


def check_cells(cells: list[SweepCell]) -> None:
    """Every cell's names, settings and sizes from the registries and the datasets' metadata, before
    anything is read or submitted: a bad value fails here in one line, not later inside a job's log."""
    from harness.models import MODELS
    from harness.protocol import PROTOCOLS

    for cell in cells:
        MODELS.get(cell.arch)
        PROTOCOLS.get(cell.protocol)
        cli.resolve_device(cell.device)
        if not 1 <= cell.ipc <= cli.MAX_WHOLE:
            raise HarnessError(f"ipc must be a whole number from 1 to {cli.MAX_WHOLE}, got {cell.ipc!r}")
        if not 0 <= cell.seed <= cli.MAX_SEED:
            raise HarnessError(f"seeds must be whole numbers from 0 to {cli.MAX_SEED}, got {cell.seed!r}")
    for name, dataset, ipc, imbalance, distill in sorted({(c.distiller, c.dataset, c.ipc, c.imbalance,
                                                          tuple(c.distill.items())) for c in cells}):
        cli.check_distillation(name, dict(distill), dataset, ipc, imbalance)


def main(argv=None) -> None:
    from distillers import DISTILLERS
    from harness.models import MODELS
    from harness.protocol import PROTOCOLS

    parser = cli.Parser(prog="python -m harness.sweep", description=__doc__, epilog=WRITES)
    parser.add_argument("--grid", help="YAML file with the grid (flags below override its keys)")
    parser.add_argument("--distillers", type=cli.names(DISTILLERS), help="comma list, e.g. dm,random")
    parser.add_argument("--datasets", type=cli.names(), help="comma list (default mnist)")
    parser.add_argument("--ipc", type=cli.number_list, help="comma list (default 10)")
    parser.add_argument("--archs", type=cli.names(MODELS), help="comma list (default convnet)")
    parser.add_argument("--seeds", type=cli.SEEDS, help="evaluation seeds 0..N-1 (default 3)")
    parser.add_argument("--protocol", type=cli.one_of(PROTOCOLS), help="evaluation protocol (default quick)")
    parser.add_argument("--iterations", type=cli.POSITIVE, help="distillation iterations for every distiller")
    parser.add_argument("--device", type=cli.device_name, help="auto, cpu, cuda, ... (default auto)")
    parser.add_argument("--executor", choices=["local", "slurm"], default="local", help="where jobs run")
    parser.add_argument("--parallel", type=cli.whole_number(1, 10000), default=1,
                        help="jobs at once (local) / array parallelism (slurm)")
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--gpus", type=cli.whole_number(1, 64), help="GPUs per Slurm job")
    parser.add_argument("--timeout-min", type=cli.whole_number(1, 60 * 24 * 30), default=240,
                        help="Slurm time limit per job (minutes, at most 30 days)")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    if args.executor == "slurm" and shutil.which("srun") is None:
        raise HarnessError("--executor slurm needs Slurm's srun on this machine's PATH: run the sweep from a Slurm "
                           "login node, or use --executor local")
    cells = expand(load_grid(args))
    check_cells(cells)
    cli.use_output(args.output)
    todo = [c for c in cells if not is_done(c)]
    print(f"{len(cells)} cells, {len(cells) - len(todo)} already recorded, {len(todo)} to run")
    folder = output_root() / "sweeps" / "submitit"
    executor = make_executor(args, folder)
    output = str(output_root().resolve())
    waves = [todo] if args.executor == "slurm" else [todo[i:i + args.parallel] for i in range(0, len(todo), args.parallel)]
    failed = []
    for wave in waves:
        jobs = [(cell, executor.submit(run_cell, cell, output)) for cell in wave]
        for cell, job in jobs:
            try:
                record = job.result()
            except Exception as exc:  # submitit re-raises the job's error with its log path
                failed.append(cell.label())
                print(f"FAILED {cell.label()}: {str(exc).strip().splitlines()[-1]} (logs: {folder})")
                continue
            print(f"done {cell.label()}: accuracy {record['metrics']['accuracy']:.2f} (job {job.job_id})")
    print(f"records: {output_root() / 'records' / 'evaluate.jsonl'}")
    if failed:
        raise HarnessError(f"{len(failed)} cell(s) failed ({', '.join(failed)}); rerun to retry only those")


if __name__ == "__main__":
    cli.run_command(main)
