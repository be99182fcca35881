"""The Steady Queue runtime: supervisor, workers and dispatchers (``manage.py steady_queue``)."""
