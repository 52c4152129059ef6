"""Periodic jobs: the sweep of due reminders (more jobs join here: digests, notes, VK polling)."""
