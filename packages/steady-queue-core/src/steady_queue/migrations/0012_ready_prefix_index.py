"""PostgreSQL only: the ready rows by queue name in the "C" collation, for the claims of prefix patterns.

In the "C" collation the queues that start with a prefix are one range of the index, whatever the
database's own collation, and each queue's rows follow in the order they are served. A claim of
``mail*`` then finds the pattern's queues and the first rows of each without reading the other
queues' rows (see steady_queue.sql.postgresql_claims). Other databases claim prefixes by a walk.
"""

from django.db import migrations

INDEX = "sq_ready_poll_prefix"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    meta = apps.get_model("steady_queue", "ReadyExecution")._meta
    quote = schema_editor.quote_name
    columns = {field.name: quote(field.column) for field in meta.concrete_fields}
    schema_editor.execute(
        f"CREATE INDEX {quote(INDEX)} ON {quote(meta.db_table)} "
        f'(({columns["queue_name"]} COLLATE "C"), {columns["priority"]} DESC, {columns["job"]})'
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(INDEX)}")


class Migration(migrations.Migration):
    dependencies = [("steady_queue", "0011_failed_queue_and_task")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
