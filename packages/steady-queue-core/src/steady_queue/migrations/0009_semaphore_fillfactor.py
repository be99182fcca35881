"""PostgreSQL only: leave half of each semaphore page free, so that the updates of a busy key stay HOT.

Every finisher batch updates the semaphores of its keys. An update that finds room on the row's own
page, and changes no indexed column, adds no index entry (a HOT update); the room makes that the
rule. The table holds one small row per key: doubling its pages costs little. Rows already written
keep their pages until the table is rewritten (VACUUM FULL); new rows get the room.
"""

from django.db import migrations


def leave_room(apps, schema_editor):
    _set_fillfactor(apps, schema_editor, 50)


def fill_pages(apps, schema_editor):
    _set_fillfactor(apps, schema_editor, 100)  # PostgreSQL's default


def _set_fillfactor(apps, schema_editor, percent):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("steady_queue", "Semaphore")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


class Migration(migrations.Migration):
    dependencies = [("steady_queue", "0008_claimed_started_at")]

    operations = [migrations.RunPython(leave_room, fill_pages, elidable=False)]
