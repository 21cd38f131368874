"""The failure-detection study in docs/failure-detection.md (not part of swimlib).

False positives under loss, pauses and slow nodes with and without Lifeguard; crash-detection
latency against SWIM's theory; dissemination time against log N gossip rounds; memory per
member entry; simulator speed. It runs on the simulator's Python API and writes the raw
results (``img/study.json``), the PNG figures and the whole markdown document. One command
regenerates everything, from the repository root::

    python3 -m studies.failure_detection [--quick] [--out docs] [--jobs 2] [--big 3000]

Each cell of the grid is one seeded simulator run and a pure function of its :class:`Cell`,
so only timings differ between two runs of the study. Modules, one job each: ``grid`` (the
cells), ``run`` (one cell), ``workers`` (the processes), ``summary`` (tables as data),
``tables``, ``plots`` (matplotlib, never installed for you), ``document`` and ``template``
(the markdown), ``cli``.
"""

from studies.failure_detection.cli import main
from studies.failure_detection.grid import Cell, Plan, plan
from studies.failure_detection.run import run_cell
from studies.failure_detection.summary import summarize_study

__all__ = ["Cell", "Plan", "main", "plan", "run_cell", "summarize_study"]
