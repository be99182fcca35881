"""Task lifecycle: retry options fixed at enqueue, and the time a task was cancelled."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('steady_queue', '0003_job_token'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='cancelled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='max_attempts',
            field=models.PositiveSmallIntegerField(db_default=1, default=1),
        ),
        migrations.AddField(
            model_name='job',
            name='retry_lost',
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
