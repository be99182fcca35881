from django.db import migrations, models


class Migration(migrations.Migration):
    """An index on cancelled_at: the console counts and lists the cancelled tasks without reading every job."""

    dependencies = [
        ("steady_queue", "0006_job_task_path_id"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["cancelled_at"], name="sq_job_cancelled"),
        ),
    ]
