"""Profiling tools for the simulator: memory per member entry and cProfile hot spots.

They moved out of swimlib (``swimlib.sim.bench`` and the simulator CLI's ``--memory`` and
``--profile``) because they measure the tool, not the protocol; see studies/README.md.
"""

from studies.sim_profile.measure import GIB, largest_n, memory_per_entry, profile_call

__all__ = ["GIB", "largest_n", "memory_per_entry", "profile_call"]
