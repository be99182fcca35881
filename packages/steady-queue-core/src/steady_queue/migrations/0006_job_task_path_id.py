from django.db import migrations, models


class Migration(migrations.Migration):
    """The task index carries the job id: a count of a state's tasks filtered by task reads two indexes only."""

    dependencies = [
        ("steady_queue", "0005_unique_keys"),
    ]

    # The new index first: filters by task stay indexed while the migration runs.
    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["task_path", "id"], name="sq_job_task_path_id"),
        ),
        migrations.RemoveIndex(
            model_name="job",
            name="sq_job_task_path",
        ),
    ]
