"""Records for the report tests, written through RecordStore exactly as the tasks write them."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import torch

from harness.data import load_dataset
from harness.paths import output_root
from harness.protocol import PROTOCOLS
from harness.records import RecordStore, records_path
from harness.synset import SyntheticSet, save_synset, sha256_file

SMOKE = PROTOCOLS.get("smoke")
LONGER = SMOKE.with_overrides(epochs=7)  # same name, different fingerprint


def store(task: str) -> RecordStore:
    return RecordStore(records_path(task))


def proto(p) -> dict:
    return {"protocol_name": p.name, "protocol_fingerprint": p.fingerprint()}


def tiny_synset(ipc: int = 2, distiller: str = "dm", iterations: int = 4, name: str = "",
                config: dict | None = None) -> tuple[Path, str]:
    """A real artifact: the first ``ipc`` mnist-tiny images per class, saved under <output>/synsets."""
    data = load_dataset("mnist-tiny", "train")
    start = len(name)  # a named variant takes other images, so its checksum differs
    index = torch.cat([idx[start:start + ipc] for idx in data.indices_by_class()])
    synset = SyntheticSet(data.normalised(index), data.labels[index], data.info, ipc,
                          meta={"distiller": distiller, "config": {"iterations": iterations, **(config or {})}, "seed": 0,
                                "timing": {"wall_seconds": 2.0, "peak_memory_mb": 300.0}, "device": "cpu"})
    path = save_synset(synset, output_root() / "synsets" / "mnist-tiny" / distiller / f"ipc{ipc}{name}.safetensors")
    return path, sha256_file(path)


def add_accuracy(task: str, distiller: str, accs: dict[int, float], protocol=SMOKE, arch: str = "convnet",
                 ipc: int = 2, dataset: str = "mnist-tiny", sha: str = "", extra: dict | None = None,
                 imbalance: float = 1.0, metrics: dict | None = None, arch_fingerprint: str | None = None) -> None:
    s = store(task)
    revision = {"arch_fingerprint": arch_fingerprint} if arch_fingerprint else {}
    for seed, acc in accs.items():
        cell = {"task": task, "distiller": distiller, "dataset": dataset, "imbalance": imbalance, "ipc": ipc,
                "distill_seed": 0, "synset_sha256": sha, **proto(protocol), "arch": arch, **revision, "seed": seed}
        s.append(cell, {"accuracy": acc, **(metrics or {})}, protocol.as_dict(), {"wall_seconds": 1.0},
                 extra=extra)


def add_continual() -> None:
    s = store("continual")
    for memory, base in (("gdumb-random", 50.0), ("dm", 60.0)):
        for step in range(1, 4):
            for seed in range(2):
                s.append({"task": "continual", "memory": memory, "distiller": None, "dataset": "mnist-tiny",
                          "steps": 3, "memory_per_class": 2, "seed": seed, "class_order": [1, 0, 2], **proto(SMOKE),
                          "step": step}, {"accuracy": base - 10 * step + seed}, SMOKE.as_dict())


NAS_ARCHS = [f"|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|arch{i}|" for i in range(5)]


def add_nas() -> None:
    s = store("nas")
    truth = [70.0, 80.0, 75.0, 90.0, 60.0]
    for distiller, proxy in (("dm", [30.0, 40.0, 35.0, 50.0, 20.0]), ("random", [30.0, 20.0, 35.0, 25.0, 40.0])):
        for arch, p, t in zip(NAS_ARCHS, proxy, truth):
            s.append({"task": "nas", "distiller": distiller, "dataset": "mnist-tiny", "ipc": 2, "arch": arch,
                      "seed": 0, **proto(SMOKE), "ground_truth": "measured-abc"}, {"proxy_accuracy": p, "ground_truth_accuracy": t}, SMOKE.as_dict())
    s.append({"task": "nas", "distiller": "dm", "summary": True}, {"rho": 1.0})  # a run summary: ignored


def add_debias() -> None:
    s = store("debias")
    for method, avg, worst in (("random", 80.0, 20.0), ("ed+critics", 78.0, 55.0)):
        for seed in range(2):
            groups = {"label=0,attr=0": avg + 5, "label=0,attr=1": worst + seed, "label=1,attr=0": avg,
                      "label=1,attr=1": avg - 2}
            s.append({"task": "debias", "method": method, "distiller": "ed", "dataset": "colored-mnist-standin",
                      "ipc": 10, "seed": seed, "arch": "convnet", **proto(SMOKE)},
                     {"accuracy": avg + seed, "worst_group_accuracy": worst + seed, "group_accuracy": groups},
                     SMOKE.as_dict())


def add_long_tailed() -> None:
    for distiller, head in (("csdm", 90.0), ("random", 85.0)):
        add_accuracy("evaluate", distiller, {0: head - 20, 1: head - 19}, dataset="mnist-lt", imbalance=100.0,
                     ipc=10, metrics={"per_class_accuracy": [head - 5 * c for c in range(10)],
                                      "many_shot_accuracy": head, "medium_shot_accuracy": head - 20,
                                      "few_shot_accuracy": head - 40})


def add_bench() -> None:
    s = store("bench")
    rows = [{"distiller": "dm", "dataset": "mnist", "ipc": 10, "seconds_per_iteration": 0.05, "peak_memory_mb": 900.0},
            {"distiller": "ncfm", "shape": "cifar10", "ipc": 10, "s_per_iter": 0.12, "peak_mb": 1400.0},  # aliases
            {"name": "forward", "ms": 3.0}]  # another benchmark's row: not a distiller cost
    for row in rows:
        s.append({"task": "bench", "benchmark": "distill", "run": row}, row, timing={"device": "cpu"})


def add_everything() -> tuple[Path, str]:
    """Records for every section; returns the artifact the accuracy records name."""
    path, sha = tiny_synset()
    add_accuracy("evaluate", "dm", {0: 60.0, 1: 64.0, 2: 62.0}, sha=sha, extra={"synset": str(path)})
    add_accuracy("evaluate", "random", {0: 50.0, 1: 51.0, 2: 55.0})
    for arch, shift in (("convnet", 0.0), ("mlp", -10.0)):
        add_accuracy("transfer", "dm", {0: 61.0 + shift, 1: 63.0 + shift}, arch=arch, sha=sha)
        add_accuracy("transfer", "random", {0: 52.0 + shift, 1: 54.0 + shift}, arch=arch)
    add_continual()
    add_nas()
    add_debias()
    add_long_tailed()
    add_bench()
    return path, sha


class PageParser(HTMLParser):
    """Tables (as lists of cell-text rows), image sources, and bold cell texts of an HTML page."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.bold: list[str] = []
        self._cell: list[str] | None = None
        self._strong = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "strong":
            self._strong = True
        elif tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "strong":
            self._strong = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
            if self._strong:
                self.bold.append(data.strip())


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser
