"""Studies and measurement tools that run on swimlib but are not part of it.

Nothing here ships in the wheel (setup.cfg packages only ``swimlib``), so these modules may
need extra packages (see ``studies/requirements.txt``) without swimlib depending on them.
Run them from the repository root, e.g. ``python3 -m studies.failure_detection``.
"""
