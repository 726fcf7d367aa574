"""Model files as the retrain loop changes them: `edgeai models promote` (promote.py) writes a
registered version into environments/<env>/models/<model>.yaml as a reviewed change on a branch."""
