"""The queue's database as the tests see it: "default", or "queue" with STEADY_QUEUE_TEST_TOPOLOGY=two-databases."""

from django.db import connections
from django.utils.connection import ConnectionProxy

from steady_queue.db import queue_database

# What django.db.connection is for the default database: this thread's connection to the queue's.
queue_connection = ConnectionProxy(connections, queue_database())
