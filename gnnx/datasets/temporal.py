"""A generated event stream with the shape of JODIE's Wikipedia set (users editing pages).

JODIE's sets (PyG's ``JODIEDataset``) are downloaded from the web, which gnnx's tests and
examples may not do, so this stream stands in with their shape: ``num_users`` sources,
``num_items`` destinations numbered after them, time stamps increasing, a ``msg_dim``-wide
feature row per event (Wikipedia: 8,227 users, 1,000 pages, 157,474 events, 172 features).

The signal a temporal model can find: each user keeps returning to a few favourite items
(``repeat`` of its events go to one of ``favourites`` items drawn for it, the rest to any item
by popularity), and an event's features carry a weak trace of its item. A model that
remembers whom a user interacted with ranks the true destination above a random one; one
without memory sits near the popularity baseline.
"""
from __future__ import annotations

import torch

from gnnx.data.temporal import TemporalData


def temporal_benchmark_stream(num_users: int = 8227, num_items: int = 1000, num_events: int = 157_474,
                              msg_dim: int = 172, favourites: int = 3, repeat: float = 0.8,
                              seed: int = 0) -> TemporalData:
    """Events ``(src, dst, t, msg)`` in time order; ``dst`` in ``[num_users, num_users + num_items)``."""
    if min(num_users, num_items, num_events, msg_dim, favourites) < 1:
        raise ValueError("temporal_benchmark_stream: every count must be at least 1")
    if not 0.0 <= repeat <= 1.0:
        raise ValueError(f"temporal_benchmark_stream: repeat must lie in [0, 1], got {repeat}")
    gen = torch.Generator().manual_seed(seed)
    # users by activity (power law), items by popularity
    activity = torch.rand(num_users, generator=gen).pow(3.0) + 1e-3
    popularity = torch.rand(num_items, generator=gen).pow(4.0) + 1e-3
    src = torch.multinomial(activity, num_events, replacement=True, generator=gen)
    liked = torch.multinomial(popularity, num_users * favourites, replacement=True,
                              generator=gen).view(num_users, favourites)
    returning = torch.rand(num_events, generator=gen) < repeat
    pick = torch.randint(0, favourites, (num_events,), generator=gen)
    any_item = torch.multinomial(popularity, num_events, replacement=True, generator=gen)
    item = torch.where(returning, liked[src, pick], any_item)
    t = torch.cumsum(torch.randint(1, 30, (num_events,), generator=gen), 0)
    item_trace = torch.randn(num_items, msg_dim, generator=gen)
    msg = 0.3 * item_trace[item] + torch.randn(num_events, msg_dim, generator=gen)
    return TemporalData(src=src, dst=item + num_users, t=t, msg=msg).validate()
