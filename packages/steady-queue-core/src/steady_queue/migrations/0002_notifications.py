"""PostgreSQL only: tell listening workers and dispatchers when there is something to do.

A statement-level trigger sends one NOTIFY per INSERT statement (not per row), delivered when the
transaction commits; other databases get nothing here and rely on polling.
"""

from django.db import migrations

CHANNEL_READY = "steady_queue_ready"
CHANNEL_SCHEDULED = "steady_queue_scheduled"

TRIGGERS = [
    # (trigger name, table, event, channel)
    ("sq_notify_ready", "steady_queue_ready_execution", "INSERT", CHANNEL_READY),
    ("sq_notify_resumed", "steady_queue_pause", "DELETE", CHANNEL_READY),
    ("sq_notify_scheduled", "steady_queue_scheduled_execution", "INSERT", CHANNEL_SCHEDULED),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, event, channel in TRIGGERS:
        schema_editor.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger AS $$ "
            f"BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, _event, _channel in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")


class Migration(migrations.Migration):
    dependencies = [("steady_queue", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
