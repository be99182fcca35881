"""The operator console: queues, tasks by state, workers and recurring tasks, in the admin's look.

Mounted by the project (``path("admin/steady-queue/", include("steady_queue.console.urls"))``);
staff only, with Django's model permissions deciding who sees and who acts. The numbers it shows
come from ``steady_queue.console.stats``, as plain data, for other front ends to share.
"""
