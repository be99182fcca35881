from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_jobs(apps, schema_editor):
    """Fill the new columns of the failed rows already there from their jobs."""
    failed = apps.get_model("steady_queue", "FailedExecution")
    jobs = apps.get_model("steady_queue", "Job").objects.using(schema_editor.connection.alias)
    of_the_job = jobs.filter(pk=OuterRef("job_id"))
    failed.objects.using(schema_editor.connection.alias).update(
        queue_name=Subquery(of_the_job.values("queue_name")[:1]),
        task_path=Subquery(of_the_job.values("task_path")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("steady_queue", "0010_claimed_process_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="failedexecution",
            name="queue_name",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="failedexecution",
            name="task_path",
            field=models.CharField(default="", max_length=255),
            preserve_default=False,
        ),
        migrations.RunPython(copy_from_jobs, migrations.RunPython.noop, elidable=True),
    ]
