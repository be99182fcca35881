from django.db import migrations, models


class Migration(migrations.Migration):
    """The start marker of a claim: a claim without one never started, and goes back to its queue
    when its process dies."""

    dependencies = [
        ("steady_queue", "0007_job_cancelled_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="claimedexecution",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
