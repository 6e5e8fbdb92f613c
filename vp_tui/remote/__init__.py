"""Talking to a running instance: SSH, file sync, keys."""
