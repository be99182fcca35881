"""Unique tasks: the key each job of a @unique task claimed, and the table of held keys."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('steady_queue', '0004_lifecycle'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='unique_key',
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.CreateModel(
            name='UniqueKey',
            fields=[
                ('key', models.CharField(max_length=255, primary_key=True, serialize=False)),
                ('job_id', models.BigIntegerField(blank=True, null=True)),
                ('result_id', models.CharField(max_length=40)),
                ('until_finished', models.BooleanField(default=False)),
                ('hold_for', models.DurationField(blank=True, null=True)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'steady_queue_unique_key',
                'indexes': [models.Index(fields=['expires_at'], name='sq_unique_key_expires')],
            },
        ),
    ]
