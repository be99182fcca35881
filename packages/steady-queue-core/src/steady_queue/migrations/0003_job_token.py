"""Result ids that never repeat: a random token per job, joined to its row id in TaskResult.id."""

from django.db import migrations, models

import steady_queue.models.job


class Migration(migrations.Migration):
    dependencies = [("steady_queue", "0002_notifications")]

    operations = [
        # Existing rows get 0, which keeps their result ids as they were (the plain row id).
        migrations.AddField(
            model_name="job",
            name="token",
            field=models.BigIntegerField(default=0, editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="job",
            name="token",
            field=models.BigIntegerField(default=steady_queue.models.job.new_result_token, editable=False),
        ),
    ]
