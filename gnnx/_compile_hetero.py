r"""Heterogeneous calls under ``gnnx.compile`` on CUDA: padded to per-type capacities and
replayed from CUDA graphs.

A sampled heterogeneous mini-batch (``x_dict``, ``edge_index_dict`` and, for a model trimmed
per layer, the per-hop counts that :func:`gnnx.utils.trim_to_layer` reads) has other sizes per
node type, relation and hop in every batch. Run kernel by kernel its step is bound by the host
(R-GAT: ~400 kernels, ~20 ms of Python a step), so :class:`HeteroReplay` runs it from a CUDA
graph:

* **Capacities.** Each node type's and relation's rows form hop blocks (one block without
  per-hop counts). Each block has a capacity that only grows, with at least one spare row per
  node block. A batch over a block's capacity grows it to the count plus a margin that starts
  at ``MARGIN`` and doubles with each growth of that block (up to ``bucket_growth - 1``), and
  the graph captured for the old capacities is dropped: a training run captures a few graphs,
  then replays one, with little padding where sizes barely vary (the large blocks). A batch that
  fills less than ``SMALLEST_FILL`` of the capacities (an epoch's last, short one) runs uncaptured.
* **Padding inside the graph.** A call copies each input's hop blocks to their places in fixed
  buffers (one copy per block, the spare rows of feature blocks zeroed) and its counts in one
  host-to-device copy; the captured code (:func:`_pad`, compiled once) sets the spare edges: real
  edges renumbered to their endpoints' blocks, padded edges joining spare rows of the source
  type's next hop block to spare rows of the destination type's block, spread round robin. Real
  nodes see exactly their sampled neighbourhoods and trimming drops the padding with its hop. The
  model gets the capacities as its per-hop counts, so each captured graph has one set of shapes.
* **Outputs** come back with their real rows only: a dict entry by its node type's (or
  relation's) blocks, a tensor whose rows are a prefix of one type's blocks by those.
  Capacities are nudged so no two prefixes of different types have the same length.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from gnnx import _replay as replay

MARGIN = 0.02  # a capacity's room above the count that set it
# At least SPREAD * sqrt(count) room: sampled counts vary by about 1-4 sqrt(count) from batch to
# batch (IGBH-shaped graph, fan-outs [15, 10, 5]), so small blocks do not grow batch after batch.
SPREAD = 6
ROUND = 8  # capacities are multiples of 8 (at least 8: Dynamo specialises sizes 0 and 1)
SMALLEST_FILL = 0.5  # a batch filling less of its capacities runs uncaptured

NodeType = str
EdgeType = Tuple[str, str, str]


class HeteroCall(NamedTuple):
    """A heterogeneous call's sizes: counts per hop block of each node type and relation, and
    each argument's role (``node``: tensors per node type, ``edge_index`` / ``edge``: per
    relation, ``hops``: per-hop counts, ``value``: passed as it is)."""
    nodes: Dict[NodeType, Tuple[int, ...]]
    edges: Dict[EdgeType, Tuple[int, ...]]
    roles: Dict[str, str]
    device: torch.device


def read_call(arguments: Dict[str, Any]) -> Optional[HeteroCall]:
    """The call's :class:`HeteroCall`, or ``None`` where it is not a heterogeneous call this
    module can pad (a bare tensor argument, inputs that need gradients or lie on several
    devices, counts that do not add up, ...)."""
    roles: Dict[str, str] = {}
    for name, value in arguments.items():
        roles[name] = _role(name, value)
        if roles[name] == "unknown":
            return None
    if "node" not in roles.values() or "edge_index" not in roles.values():
        return None
    nodes = {t: v.size(0) for t, v in arguments[_first(roles, "node")].items()}
    edges = {r: v.size(1) for r, v in arguments[_first(roles, "edge_index")].items()}
    tensors = [v for n, d in arguments.items() if roles[n] in ("node", "edge_index", "edge") for v in d.values()]
    if any(t.requires_grad for t in tensors) or len({t.device for t in tensors}) > 1:
        return None
    device = tensors[0].device
    for name, role in roles.items():
        value = arguments[name]
        if role == "node" and any(t not in nodes or v.size(0) != nodes[t] for t, v in value.items()):
            return None
        if role == "edge_index" and any(r not in edges or v.size(1) != edges[r] for r, v in value.items()):
            return None
        if role == "edge" and any(r not in edges or v.size(0) != edges[r] for r, v in value.items()):
            return None
    if any(r[0] not in nodes or r[2] not in nodes for r in edges):
        return None
    hops = {("node" if isinstance(next(iter(v)), str) else "edge"): v
            for n, v in arguments.items() if roles[n] == "hops"}
    if hops:  # per-hop counts: every type's, adding up to its rows
        if set(hops) != {"node", "edge"} or not set(hops["node"]) >= set(nodes) or not set(hops["edge"]) >= set(edges):
            return None
        if any(sum(hops["node"][t]) != n for t, n in nodes.items()) or any(
                sum(hops["edge"][r]) != e for r, e in edges.items()):
            return None
        return HeteroCall({t: tuple(hops["node"][t]) for t in nodes}, {r: tuple(hops["edge"][r]) for r in edges},
                          roles, device)
    return HeteroCall({t: (n,) for t, n in nodes.items()}, {r: (e,) for r, e in edges.items()}, roles, device)


def _role(name: str, value: Any) -> str:
    if isinstance(value, Tensor):
        return "unknown"  # a bare tensor next to dict inputs: its rows' meaning is not known
    if not isinstance(value, dict) or not value:
        # a plain value is baked into the captured call: nothing that could hold tensors
        return "value" if _plain(value) else "unknown"
    keys, values = list(value), list(value.values())
    if all(isinstance(v, (list, tuple)) and all(isinstance(c, int) for c in v) for v in values):
        return "hops" if all(isinstance(k, (str, tuple)) for k in keys) else "unknown"
    if not all(isinstance(v, Tensor) and v.dim() > 0 for v in values):
        return "unknown"
    if all(isinstance(k, str) for k in keys):
        return "node"
    if all(isinstance(k, tuple) and len(k) == 3 for k in keys):
        structure = all(v.dim() == 2 and v.size(0) == 2 and not v.is_floating_point() for v in values)
        return "edge_index" if "edge_index" in name and structure else "edge"
    return "unknown"


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(map(_plain, value))
    return value is None or isinstance(value, (bool, int, float, str))


def _first(roles: Dict[str, str], role: str) -> str:
    return next(n for n, r in roles.items() if r == role)


# -- capacities ----------------------------------------------------------------------------------
class Capacities(NamedTuple):
    nodes: Dict[NodeType, Tuple[int, ...]]
    edges: Dict[EdgeType, Tuple[int, ...]]
    margins: Dict[Any, Tuple[float, ...]]  # per node type and relation, each block's last growth room

    def key(self) -> tuple:
        return tuple(self.nodes.items()), tuple(self.edges.items())


def capacities(call: HeteroCall, current: Optional[Capacities], largest_margin: float = 0.25) -> Optional[Capacities]:
    """``current`` where ``call`` fits it; grown where it does not (``current`` ``None``:
    new); ``None`` where the call fits but fills less than ``SMALLEST_FILL`` of it.

    A block that overflows grows to its count plus a margin: ``MARGIN`` at first, twice its
    last margin after (at most ``largest_margin``), and at least ``SPREAD * sqrt(count)``.
    Blocks whose sizes spread widely (small ones) so settle after a few growths, and large
    ones, whose sizes barely vary, keep little padding."""
    if current is not None and (current.nodes.keys() != call.nodes.keys() or current.edges.keys() != call.edges.keys()
                                or any(len(current.nodes[t]) != len(c) for t, c in call.nodes.items())
                                or any(len(current.edges[r]) != len(c) for r, c in call.edges.items())):
        current = None  # another layout (other types or hops): start again
    margins: Dict[Any, Tuple[float, ...]] = {}

    def grown(counts: Dict[Any, Tuple[int, ...]], old: Optional[Dict[Any, Tuple[int, ...]]], spare: int):
        caps = {}
        for key, blocks in counts.items():
            caps[key], margins[key] = zip(*(
                (old[key][h], current.margins[key][h]) if old and count + spare <= old[key][h] else
                _room(count + spare, min(largest_margin, 2 * current.margins[key][h]) if old else MARGIN)
                for h, count in enumerate(blocks)))
        return caps

    caps = Capacities(grown(call.nodes, current and current.nodes, 1), grown(call.edges, current and current.edges, 0),
                      margins)
    if current is not None and caps.nodes == current.nodes and caps.edges == current.edges:
        real = sum(map(sum, call.nodes.values())) + sum(map(sum, call.edges.values()))
        room = sum(map(sum, current.nodes.values())) + sum(map(sum, current.edges.values()))
        return current if real >= SMALLEST_FILL * room else None
    return _separated(caps)


def _room(need: int, margin: float) -> Tuple[int, float]:
    room = max(need * margin, SPREAD * math.sqrt(need))
    return max(ROUND, -(-math.ceil(need + room) // ROUND) * ROUND), margin


def _separated(caps: Capacities) -> Capacities:
    """``caps`` with blocks grown by a row where needed so that no two prefixes (of any
    types' blocks) have the same length: an output tensor's rows then name its type."""
    seen = set()

    def separate(blocks: Tuple[int, ...]) -> Tuple[int, ...]:
        total, out = 0, []
        for block in blocks:
            while total + block in seen:
                block += 1
            total += block
            seen.add(total)
            out.append(block)
        return tuple(out)

    return caps._replace(nodes={t: separate(b) for t, b in caps.nodes.items()},
                         edges={r: separate(b) for r, b in caps.edges.items()})


# -- the padded call, captured -------------------------------------------------------------------
class _Axis(NamedTuple):
    """One node type's or relation's block layout on the device: each padded row's block and
    offset in it, the blocks' starts and capacities; ``first``: where its blocks' counts start
    in the call's counts vector, ``blocks``: how many. No capacity is a Python int here, so the
    compiled padding serves every capacity."""
    block: Tensor
    offset: Tensor
    start: Tensor
    cap: Tensor
    first: int
    blocks: int


def _axis(caps: Tuple[int, ...], first: int, device: torch.device) -> _Axis:
    cap = torch.tensor(caps, device=device)
    start = torch.cumsum(cap, 0) - cap
    block = torch.repeat_interleave(torch.arange(len(caps), device=device), cap, output_size=sum(caps))
    return _Axis(block, torch.arange(sum(caps), device=device) - start[block], start, cap, first, len(caps))


def _pad(counts: Tensor, buffers: List[Tensor], roles: Tuple[Tuple[str, Any], ...], nodes: Dict[NodeType, _Axis],
         edges: Dict[EdgeType, _Axis]) -> List[Tensor]:
    """The inputs in the padded layout, from buffers whose blocks :func:`_fill` copied in place:
    features as they are (:func:`_fill` zeroed their spare rows); real edges renumbered to their
    endpoints' blocks, padded ones joining spare rows of the source type's next hop block and the
    destination type's block (round robin, so no spare row is a hub). Compiled once (:func:`_compiled_pad`)."""
    real = {key: counts[axis.first:axis.first + axis.blocks] for key, axis in (*nodes.items(), *edges.items())}
    # a real node moves by the padding of the hop blocks before its own: (block ends, shift per block)
    moves = {t: (torch.cumsum(real[t], 0), axis.start - (torch.cumsum(real[t], 0) - real[t]))
             for t, axis in nodes.items() if axis.blocks > 1}
    out = []
    for (role, key), buffer in zip(roles, buffers):
        if role != "edge_index":  # spare rows zeroed by _fill: a copy here would cost a pass over x
            out.append(buffer)
            continue
        axis = edges[key]
        is_real = axis.offset < real[key][axis.block]
        padded = axis.offset - real[key][axis.block]  # >= 0 on padded positions
        ends = []
        for end, node_type, block in ((0, key[0], axis.block + 1), (1, key[2], axis.block)):
            node_axis, filled = nodes[node_type], real[node_type]
            block = block.clamp(max=node_axis.blocks - 1)
            room = (node_axis.cap[block] - filled[block]).clamp(min=1)  # >= 1 anyway; the clamp keeps
            spare = node_axis.start[block] + filled[block] + padded % room  # compiled loop tails from / 0
            index = buffer[end]
            if node_type in moves:
                real_ends, shift = moves[node_type]
                index = index + shift[torch.bucketize(index, real_ends, right=True).clamp(max=node_axis.blocks - 1)]
            ends.append(torch.where(is_real, index, spare))
        out.append(torch.stack(ends))
    return out


_COMPILED_PAD: Optional[Callable] = None


def _compiled_pad() -> Callable:
    """:func:`_pad` compiled (one fused kernel or two per input instead of dozens of small
    ones); capacities are tensor data and sizes, so one compiled graph serves every capture."""
    global _COMPILED_PAD
    if _COMPILED_PAD is None:
        _COMPILED_PAD = torch.compile(_pad, dynamic=True, fullgraph=True)
    return _COMPILED_PAD


class _PaddedCall(torch.nn.Module):
    """The compiled model as a function of the call's counts and its inputs' buffers (blocks
    in place, spare rows not yet set), padding them first: all on the device, so it is captured."""

    def __init__(self, compiled: Callable, model: torch.nn.Module, signature: inspect.Signature,
                 arguments: Dict[str, Any], call: HeteroCall, caps: Capacities, device: torch.device) -> None:
        super().__init__()
        self.model = model  # registered, so that capture sees its parameters
        self._call, self._signature = compiled, signature
        self._template = {n: v if call.roles[n] == "value" else
                          {k: type(h)(_caps_of(caps, k, h)) for k, h in v.items()} if call.roles[n] == "hops" else
                          list(v) for n, v in arguments.items()}
        self._roles = tuple((call.roles[n], k) for n, v in arguments.items()
                            if call.roles[n] in ("node", "edge", "edge_index") for k in v)
        first, self._nodes, self._edges = 0, {}, {}
        for axes, table in ((caps.nodes, self._nodes), (caps.edges, self._edges)):
            for key, blocks in axes.items():
                table[key] = _axis(blocks, first, device)
                first += len(blocks)
        self._pad = _compiled_pad() if device.type == "cuda" else _pad

    def forward(self, counts: Tensor, *buffers: Tensor) -> Any:
        padded = iter(self._pad(counts, list(buffers), self._roles, self._nodes, self._edges))
        arguments = {name: {k: next(padded) for k in value} if isinstance(value, list) else value
                     for name, value in self._template.items()}
        bound = self._signature.bind_partial(**arguments)
        return self._call(*bound.args, **bound.kwargs)


def _caps_of(caps: Capacities, key: Any, default: Any = None) -> Tuple[int, ...]:
    return caps.nodes.get(key, default) if isinstance(key, str) else caps.edges.get(key, default)


# -- the runner ------------------------------------------------------------------------------------
class TooManyShapes(RuntimeError):
    """More input shapes than :class:`HeteroReplay` captures."""


class HeteroReplay:
    """The capacities and captured graphs of one compiled model's heterogeneous calls, per
    call signature (argument layout, dtypes and widths, training and grad mode, autocast)."""

    def __init__(self, compiled: Callable, model: torch.nn.Module, signature: inspect.Signature,
                 growth: float = 1.25, capture: Callable = replay.graphed) -> None:
        """``growth``: a capacity is at most this times its count (beyond ``ROUND``);
        ``capture(flat, static)``: a callable replaying ``flat`` on the buffers ``static``
        (CUDA graphs; tests of the padding pass ``flat`` itself)."""
        self._compiled, self._model, self._signature = compiled, model, signature
        self._largest_margin, self._capture = growth - 1, capture
        self._caps: Dict[tuple, Capacities] = {}
        self.captured: Dict[tuple, Tuple[replay.Replay, List[Tensor]]] = {}
        self.captures = 0  # graphs captured so far (growths included)

    def run(self, arguments: Dict[str, Any], call: HeteroCall, limit: int) -> Any:
        """The call's outputs from a replayed graph; ``None`` where it runs uncaptured (too
        small for the capacities, or the graph's last replay still awaits its backward);
        raises :class:`TooManyShapes` past ``limit`` graphs."""
        signature = _signature_of(arguments, call, self._model)
        caps = capacities(call, self._caps.get(signature), self._largest_margin)
        if caps is None:
            return None
        old = self._caps.get(signature)
        if old is not None and old != caps:
            self.captured.pop((signature, old.key()), None)  # frees its memory pool
        self._caps[signature] = caps
        key = (signature, caps.key())
        runner = self.captured.get(key)
        if runner is not None and runner[0].busy():  # its last replay awaits its backward
            return None
        inputs = _inputs(arguments, call, caps)
        counts = [c for blocks in (*call.nodes.values(), *call.edges.values()) for c in blocks]
        if runner is None:
            if len(self.captured) >= limit:
                raise TooManyShapes(f"more than {limit} input shapes")
            static = [torch.zeros(len(counts), dtype=torch.int64, device=call.device)] + [_buffer(*i) for i in inputs]
            _fill(static, counts, inputs)
            flat = _PaddedCall(self._compiled, self._model, self._signature, arguments, call, caps, call.device)
            with replay.uncached_autocast():  # later captures reuse warm kernels: one warm-up call
                runner = (replay.Replay(self._capture(flat, static, warmup=1 if self.captures else 3)), static)
            self.captures += 1
            self.captured[key] = runner
        else:
            _fill(runner[1], counts, inputs)
        graphed, static = runner
        return _real(graphed(*static), call, caps)


def _signature_of(arguments: Dict[str, Any], call: HeteroCall, model: torch.nn.Module) -> tuple:
    layout = []
    for name, value in arguments.items():
        role = call.roles[name]
        if role in ("node", "edge", "edge_index"):
            layout.append((name, role, tuple((k, v.dtype, tuple(v.shape[1:]) if role != "edge_index" else ())
                                             for k, v in value.items())))
        elif role == "hops":
            layout.append((name, role, tuple(value)))
        else:
            layout.append((name, role, repr(value)))
    return (tuple(layout), getattr(model, "training", False), torch.is_grad_enabled(), replay.modes(),
            tuple(len(b) for b in call.nodes.values()))


def _inputs(arguments: Dict[str, Any], call: HeteroCall, caps: Capacities) -> List[tuple]:
    """The call's tensors in the order :class:`_PaddedCall` reads its buffers, each with
    whether its rows are columns (``edge_index``), its type's counts and capacities per block."""
    return [(v, call.roles[n] == "edge_index", call.nodes[k] if isinstance(k, str) else call.edges[k], _caps_of(caps, k))
            for n, d in arguments.items() if call.roles[n] in ("node", "edge", "edge_index") for k, v in d.items()]


def _buffer(value: Tensor, columns: bool, counts: Tuple[int, ...], caps: Tuple[int, ...]) -> Tensor:
    return value.new_zeros((2, sum(caps)) if columns else (sum(caps), *value.shape[1:]))


def _fill(static: List[Tensor], counts: List[int], inputs: List[tuple]) -> None:
    """The call's counts (one host-to-device copy) and each input's hop blocks, copied to their
    places in the captured graph's buffers, the spare rows of feature blocks zeroed (an edge
    index's spare columns are set inside the graph)."""
    pinned = static[0].is_cuda  # a non-blocking copy from pinned memory: no wait for the queue
    static[0].copy_(torch.tensor(counts, dtype=torch.int64, pin_memory=pinned), non_blocking=pinned)
    for buffer, (value, columns, real, caps) in zip(static[1:], inputs):
        dim, source, target = int(columns), 0, 0
        for count, cap in zip(real, caps):
            if count:
                buffer.narrow(dim, target, count).copy_(value.narrow(dim, source, count))
            if not columns and count < cap:
                buffer.narrow(0, target + count, cap - count).zero_()
            source, target = source + count, target + cap


def _real(out: Any, call: HeteroCall, caps: Capacities) -> Any:
    """``out`` (the captured graph's buffers) with real rows only, as new tensors: a dict
    entry of a node type or relation by its blocks, any other tensor by the blocks whose
    prefix its rows match (:func:`_separated` keeps those apart)."""
    def prefixes(keys) -> Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...], int]]:
        table = {}
        for key in keys:
            blocks = _caps_of(caps, key)
            counts = call.nodes[key] if isinstance(key, str) else call.edges[key]
            for h in range(len(blocks)):
                table[sum(blocks[:h + 1])] = (blocks, counts, h + 1)
        return table

    every = prefixes([*call.nodes, *call.edges])

    def real(value: Any, key: Any = None) -> Any:
        if isinstance(value, dict):
            return {k: real(v, k) for k, v in value.items()}
        if isinstance(value, (tuple, list)):
            return type(value)(real(v) for v in value)
        if not isinstance(value, Tensor):
            return value
        if value.dim() == 0:
            return value.clone()
        own = key is not None and (key in call.nodes or key in call.edges)
        found = (prefixes([key]) if own else every).get(value.size(0))
        if found is None:
            return value.clone()
        blocks, counts, used = found
        if used == 1:
            return value[:counts[0]].clone()
        starts = [sum(blocks[:h]) for h in range(used)]
        return torch.cat([value[start:start + count] for start, count in zip(starts, counts[:used])])

    return real(out)
