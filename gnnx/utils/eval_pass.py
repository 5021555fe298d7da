"""One forward pass in evaluation mode without gradients, optionally watched by forward hooks;
the module's training mode and the hooks are restored whatever happens."""
from __future__ import annotations

from typing import Any, Callable, Dict, Sequence, Tuple

import torch


def eval_pass(model: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any],
              hooks: Sequence[Tuple[torch.nn.Module, Callable]] = ()) -> Any:
    """``model(*args, **kwargs)`` in eval mode under ``no_grad``, with each ``(module,
    hook)`` registered as a forward hook for the pass."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(*args, **kwargs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
