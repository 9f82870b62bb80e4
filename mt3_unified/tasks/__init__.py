"""SeqIO tasks and mixtures of every translation; importing the package registers them all.

`registry.add_translation_task` registers one pair; `synthetic` and `datasets`
call it for the synthetic corpus and the paper's datasets, `mixtures` mixes them.
"""

# The synthetic tasks first: the paper's mixtures in `datasets` include them.
from mt3_unified.tasks import synthetic  # noqa: F401, I001  (registers the tasks)
from mt3_unified.tasks import datasets  # noqa: F401
from mt3_unified.tasks.registry import get_task_or_mixture, task_name

__all__ = ["get_task_or_mixture", "task_name"]
