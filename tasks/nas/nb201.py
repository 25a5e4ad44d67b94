"""NAS-Bench-201 cell networks, built from an architecture string.

A cell has 4 nodes; node ``i`` (1..3) sums one operation applied to each earlier node, giving 6
edges and 5**6 = 15,625 cells. The string form lists, per node, ``op~input`` for inputs 0..i-1:
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.

The network is the NAS-Bench-201 macro skeleton: stem (conv3x3 + BN), three stages of N cells
with C, 2C and 4C channels joined by residual reduction blocks, then BN-ReLU, global average
pooling and a linear classifier. All BNs are affine with running statistics, convolutions have no
bias, so the parameter counts match the benchmark's reference implementation.
"""

from __future__ import annotations

import random

import torch
import torch.nn as nn

from harness.errors import HarnessError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
NUM_ARCHS = len(OPS) ** 6

Arch = tuple[tuple[tuple[str, int], ...], ...]  # per node 1..3: ((op, input_node), ...)


def parse_arch(arch_str: str) -> Arch:
    """Parse an NB201 string into ``((op, input), ...)`` for nodes 1..3 (inputs in order 0..i-1)."""
    parts = arch_str.strip().split("+")
    if len(parts) != NUM_NODES - 1:
        raise HarnessError(f"NB201 architecture needs {NUM_NODES - 1} '+'-separated nodes: {arch_str!r}")
    arch = []
    for node, part in enumerate(parts, start=1):
        if not (part.startswith("|") and part.endswith("|")):
            raise HarnessError(f"NB201 node {node} must look like '|op~0|...|': {part!r}")
        edges = []
        for edge in part[1:-1].split("|"):
            op, _, source = edge.partition("~")
            if op not in OPS:
                raise HarnessError(f"unknown NB201 op {op!r} in {arch_str!r}; ops are {', '.join(OPS)}")
            edges.append((op, int(source) if source.isdigit() else -1))
        if [source for _, source in edges] != list(range(node)):
            raise HarnessError(f"NB201 node {node} must take inputs 0..{node - 1} in order: {part!r}")
        arch.append(tuple(edges))
    return tuple(arch)


def arch_to_string(arch: Arch) -> str:
    """The NB201 string of a parsed architecture (inverse of ``parse_arch``)."""
    return "+".join("|" + "|".join(f"{op}~{source}" for op, source in node) + "|" for node in arch)


def is_connected(arch: Arch | str) -> bool:
    """Whether the output node is reachable from the input through edges that are not ``none``."""
    if isinstance(arch, str):
        arch = parse_arch(arch)
    reached = {0}
    for node, edges in enumerate(arch, start=1):
        if any(op != "none" and source in reached for op, source in edges):
            reached.add(node)
    return NUM_NODES - 1 in reached


def all_archs() -> list[str]:
    """All 15,625 cells, in index order (see ``_arch_from_index``)."""
    return [_arch_from_index(i) for i in range(NUM_ARCHS)]


def sample_archs(k: int, seed: int) -> list[str]:
    """``k`` distinct cells drawn uniformly from the 15,625, reproducibly for a given seed."""
    return [_arch_from_index(i) for i in random.Random(seed).sample(range(NUM_ARCHS), k)]


def _arch_from_index(index: int) -> str:
    """Cell ``index`` in base 5: one ``OPS`` digit per edge in string order, the last edge lowest."""
    ops = [OPS[(index // 5**p) % 5] for p in reversed(range(6))]
    return arch_to_string(
        (((ops[0], 0),), ((ops[1], 0), (ops[2], 1)), ((ops[3], 0), (ops[4], 1), (ops[5], 2)))
    )


class ReLUConvBN(nn.Sequential):
    """ReLU, conv (no bias), affine BN: the ``nor_conv`` op and the reduction block's branches."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: zeros shaped like the input (kept in the graph)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class Cell(nn.Module):
    """One NB201 cell: node i = sum of op(node j) over its edges; the output is node 3."""

    def __init__(self, arch: Arch, channels: int):
        super().__init__()
        self.sources = [[source for _, source in edges] for edges in arch]
        self.edges = nn.ModuleList(
            nn.ModuleList(make_op(op, channels) for op, _ in edges) for edges in arch
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for ops, sources in zip(self.edges, self.sources):
            nodes.append(sum(op(nodes[j]) for op, j in zip(ops, sources)))
        return nodes[-1]


class ReductionBlock(nn.Module):
    """Residual block between stages: ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, plus avgpool2 + conv1x1."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network for one cell: N cells per stage, C/2C/4C channels."""

    def __init__(self, arch_str: str, in_channels: int, num_classes: int, C: int = 16, N: int = 5):
        super().__init__()
        arch = parse_arch(arch_str)
        self.arch_str = arch_to_string(arch)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)
        )
        layers: list[nn.Module] = []
        channels = C
        for stage in range(3):
            if stage > 0:
                layers.append(ReductionBlock(channels, channels * 2))
                channels *= 2
            layers += [Cell(arch, channels) for _ in range(N)]
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.embed_dim = channels
        self.classifier = nn.Linear(channels, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))
