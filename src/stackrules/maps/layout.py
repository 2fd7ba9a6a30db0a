"""A layered (Sugiyama-style) layout: nodes with sizes and directed edges in, positions and edge
routes out, flowing top to bottom.

1. Cycles (mutual recognition) are broken by turning back the edges a depth-first search in
   node order finds closing a cycle; those edges are drawn in their true direction afterwards.
2. Layers are NetworkX topological generations (a node sits one below its lowest
   predecessor); a node with no predecessor is then pulled down to just above its highest
   successor, so a course sits next to what it counts toward.
3. An edge that spans several layers gets a chain of dummy points, one per layer crossed.
4. The order inside each layer is improved by barycentre sweeps (down, then up), keeping the
   order with the fewest crossings seen.
5. Horizontal positions: each layer is pulled toward the mean position of its neighbours in
   the layer just placed, then made non-overlapping with the least total movement
   (isotonic regression by pooling adjacent violators), alternately downward and upward.

Everything is deterministic: ties keep the order nodes were given in.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

H_GAP = 28.0
V_GAP = 56.0
DUMMY_WIDTH = 12.0
SWEEPS = 12
PLACEMENT_PASSES = 8
MAX_ROW_WIDTH = 1400.0


@dataclass(frozen=True)
class Box:
    x: float  # centre
    y: float  # top
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: dict[tuple[str, str], list[tuple[float, float]]]  # from the source to the target
    width: float
    height: float
    layers: list[list[str]]  # real nodes by layer, in order


def _acyclic(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges with each edge that closes a cycle (in a DFS in node order) turned back."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        succ[u].append(v)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return [(v, u) if (u, v) in back else (u, v) for u, v in edges if u != v]


def _layers(nodes: Sequence[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    layer: dict[str, int] = {}
    for depth, generation in enumerate(nx.topological_generations(g)):
        for n in generation:
            layer[n] = depth
    for n in nodes:
        if g.in_degree(n) == 0 and g.out_degree(n) > 0:
            layer[n] = min(layer[s] for s in g.successors(n)) - 1
    return layer


def _crossings(upper: list[str], lower: list[str], down: dict[str, list[str]]) -> int:
    pos = {n: i for i, n in enumerate(lower)}
    pairs = [(i, pos[v]) for i, u in enumerate(upper) for v in down.get(u, ()) if v in pos]
    count = 0
    for a, (i1, j1) in enumerate(pairs):
        for i2, j2 in pairs[a + 1 :]:
            if (i1 - i2) * (j1 - j2) < 0:
                count += 1
    return count


def _total_crossings(order: list[list[str]], down: dict[str, list[str]]) -> int:
    return sum(_crossings(order[i], order[i + 1], down) for i in range(len(order) - 1))


def _sweep(order: list[list[str]], neighbours: dict[str, list[str]], reverse: bool) -> None:
    indices = range(len(order) - 2, -1, -1) if reverse else range(1, len(order))
    for i in indices:
        ref = order[i + 1] if reverse else order[i - 1]
        pos = {n: k for k, n in enumerate(ref)}
        current = {n: k for k, n in enumerate(order[i])}

        def centre(n: str, pos: dict[str, int] = pos, current: dict[str, int] = current) -> float:
            ks = [pos[m] for m in neighbours.get(n, ()) if m in pos]
            return sum(ks) / len(ks) if ks else float(current[n])

        order[i] = sorted(order[i], key=lambda n: (centre(n), current[n]))


def _pav(targets: list[float], offsets: list[float]) -> list[float]:
    """x minimising sum (x_i - t_i)^2 with x_{i+1} - x_i >= offsets[i+1] - offsets[i]."""
    y = [t - o for t, o in zip(targets, offsets, strict=True)]
    blocks: list[list[float]] = []  # [sum, count]
    for value in y:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out: list[float] = []
    for s, c in blocks:
        out.extend([s / c] * int(c))
    return [v + o for v, o in zip(out, offsets, strict=True)]


def layout(
    nodes: Sequence[str],
    sizes: dict[str, tuple[float, float]],
    edges: Sequence[tuple[str, str]],
    max_width: float = MAX_ROW_WIDTH,
) -> Layout:
    """Place `nodes` (in a stable order) of the given (width, height) with `edges` flowing down.

    Each connected part is laid out on its own; the parts are then set side by side, in the
    order of their first node, starting a new row of parts past `max_width`."""
    g = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    rank = {n: i for i, n in enumerate(nodes)}
    parts = sorted(
        (sorted(c, key=rank.__getitem__) for c in nx.connected_components(g)),
        key=lambda c: rank[c[0]],
    )
    boxes: dict[str, Box] = {}
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    layers: list[list[str]] = []
    x0 = y0 = row_height = width = 0.0
    for part in parts:
        members = set(part)
        one = _layout_component(part, sizes, [(u, v) for u, v in edges if u in members])
        if x0 > 0 and x0 + one.width > max_width:
            x0, y0, row_height = 0.0, y0 + row_height + V_GAP, 0.0
        for n, b in one.boxes.items():
            boxes[n] = Box(b.x + x0, b.y + y0, b.width, b.height)
        for e, pts in one.routes.items():
            routes[e] = [(x + x0, y + y0) for x, y in pts]
        layers.extend(one.layers)
        width = max(width, x0 + one.width)
        row_height = max(row_height, one.height)
        x0 += one.width + 2 * H_GAP
    return Layout(boxes, routes, width, y0 + row_height, layers)


def _layout_component(
    nodes: Sequence[str], sizes: dict[str, tuple[float, float]], edges: Sequence[tuple[str, str]]
) -> Layout:
    dag = _acyclic(nodes, edges)
    layer = _layers(nodes, dag)
    width = dict((n, sizes[n][0]) for n in nodes)
    # chains of dummies for long edges; `chain` maps each DAG edge to its points
    down: dict[str, list[str]] = {n: [] for n in nodes}
    up: dict[str, list[str]] = {n: [] for n in nodes}
    chains: dict[tuple[str, str], list[str]] = {}
    for u, v in dag:
        path = [u]
        for k in range(layer[u] + 1, layer[v]):
            dummy = f"\0{u}\0{v}\0{k}"
            layer[dummy] = k
            width[dummy] = DUMMY_WIDTH
            down[dummy], up[dummy] = [], []
            path.append(dummy)
        path.append(v)
        chains[(u, v)] = path
        for a, b in itertools.pairwise(path):
            down[a].append(b)
            up[b].append(a)
    depth = max(layer.values(), default=-1) + 1
    order: list[list[str]] = [[] for _ in range(depth)]
    for n in layer:  # real nodes in the given order, then dummies in edge order
        order[layer[n]].append(n)
    best = [list(x) for x in order]
    fewest = _total_crossings(order, down)
    for sweep in range(SWEEPS):
        if fewest == 0:
            break
        _sweep(order, up if sweep % 2 == 0 else down, reverse=sweep % 2 == 1)
        crossings = _total_crossings(order, down)
        if crossings < fewest:
            fewest, best = crossings, [list(x) for x in order]
    order = best
    # horizontal placement
    x: dict[str, float] = {}
    for row in order:
        at = 0.0
        for n in row:
            x[n] = at + width[n] / 2
            at += width[n] + H_GAP
    for p in range(PLACEMENT_PASSES):
        downward = p % 2 == 0
        rows = range(1, depth) if downward else range(depth - 2, -1, -1)
        for i in rows:
            row = order[i]
            if not row:
                continue
            targets = []
            for n in row:
                ns = up[n] if downward else down[n]
                targets.append(sum(x[m] for m in ns) / len(ns) if ns else x[n])
            offsets = [0.0]
            for a, b in itertools.pairwise(row):
                offsets.append(offsets[-1] + (width[a] + width[b]) / 2 + H_GAP)
            for n, value in zip(row, _pav(targets, offsets), strict=True):
                x[n] = value
    left = min((x[n] - width[n] / 2 for n in x), default=0.0)
    right = max((x[n] + width[n] / 2 for n in x), default=0.0)
    heights = [max((sizes[n][1] for n in row if n in sizes), default=0.0) for row in order]
    tops, y = [], 0.0
    for h in heights:
        tops.append(y)
        y += h + V_GAP
    boxes: dict[str, Box] = {}
    for i, row in enumerate(order):
        for n in row:
            if n in sizes:
                w, h = sizes[n]
                boxes[n] = Box(x[n] - left, tops[i] + (heights[i] - h) / 2, w, h)
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (u, v), path in chains.items():
        points = [(boxes[u].x, boxes[u].bottom)]
        for d in path[1:-1]:
            centre = tops[layer[d]] + heights[layer[d]] / 2
            points.append((x[d] - left, centre))
        points.append((boxes[v].x, boxes[v].y))
        routes[(u, v)] = points
    for u, v in edges:
        if u != v and (u, v) not in routes:  # an edge turned back: drawn in its own direction
            routes[(u, v)] = list(reversed(routes[(v, u)]))
    real = [[n for n in row if n in sizes] for row in order]
    return Layout(boxes, routes, right - left, max(y - V_GAP, 0.0), real)
