"""The Steady Queue recurring-task scheduler."""
