"""new_job(): the positional construction enqueueing uses is Job(**values), signals and defaults included."""

import pytest
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from steady_queue.models import Job
from steady_queue.models.job import new_job


def values():
    return {
        "task_path": "shop.tasks.charge", "queue_name": "payments", "priority": 5, "backend": "default",
        "arguments": {"args": [1], "kwargs": {}}, "created_at": timezone.now(), "max_attempts": 3,
    }


def test_it_sets_what_keyword_construction_sets():
    given = values()
    built, reference = new_job(**given), Job(**given)
    for field in Job._meta.concrete_fields:
        if field.attname != "token":  # random for each job
            assert getattr(built, field.attname) == getattr(reference, field.attname), field.attname
    assert built.token and built.token != reference.token
    assert built._state.adding and built._state.db is None and built.pk is None


def test_mutable_defaults_are_fresh_for_each_job():
    first, second = new_job(**values()), new_job(**values())
    first.worker_ids.append("w")
    first.errors.append({})
    assert second.worker_ids == [] and second.errors == []


def test_a_field_that_does_not_exist_is_refused():
    with pytest.raises(TypeError, match="no field.*queue"):
        new_job(**values(), queue="payments")


def test_the_init_signals_are_sent():
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs.get("instance"))

    pre_init.connect(receiver, sender=Job)
    post_init.connect(receiver, sender=Job)
    try:
        job = new_job(**values())
    finally:
        pre_init.disconnect(receiver, sender=Job)
        post_init.disconnect(receiver, sender=Job)
    assert seen == [None, job]
