"""The dashboard's actions, one module per family: instances, jobs, sync."""
