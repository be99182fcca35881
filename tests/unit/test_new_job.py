"""new_job() and jobs_from_rows(): the fast constructions enqueueing and claiming use build what Django builds."""

import pytest
from django.db import connection
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from steady_queue.models import Job
from steady_queue.models.job import jobs_from_rows, new_job, new_result_tokens


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


def test_tokens_read_at_once_are_distinct_positive_63_bit_numbers():
    tokens = new_result_tokens(2000)
    assert len(tokens) == len(set(tokens)) == 2000
    assert all(0 < token < 2**63 for token in tokens)
    # Every bit is random: some tokens use the 63rd (a shift or slice too many would lose it).
    assert max(tokens) >= 2**62
    assert new_result_tokens(0) == []


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


def claimed_rows():
    """Jobs in the database and their rows as a claim reads them (every column, in field order)."""
    for n in range(3):
        new_job(**values(), concurrency_key=f"k{n}" if n else None).save()
    # One retried job: its JSON columns hold more than the empty lists and null of a first attempt.
    Job.objects.filter(pk=Job.objects.order_by("pk").last().pk).update(
        worker_ids=["w-1"], errors=[{"exception_class_path": "x.Y", "traceback": "..."}], return_value={"a": [1]}
    )
    fields = Job._meta.concrete_fields
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(Job._meta.db_table)} "
            f"ORDER BY {quote(Job._meta.pk.column)}"
        )
        return [field.attname for field in fields], cursor.fetchall()


@pytest.mark.django_db
def test_claimed_jobs_are_what_the_orm_reads():
    attnames, rows = claimed_rows()
    built = jobs_from_rows("default", attnames, rows)
    read = list(Job.objects.order_by("pk"))
    for job, reference in zip(built, read, strict=True):
        assert type(job) is Job
        assert {k: v for k, v in vars(job).items() if k != "_state"} == {
            k: v for k, v in vars(reference).items() if k != "_state"
        }
        assert not job._state.adding and job._state.db == "default"
    # Each job's lists are its own: a worker appends to them.
    assert built[0].worker_ids == built[1].worker_ids == [] and built[0].worker_ids is not built[1].worker_ids
    # Saved like any job the ORM read: an UPDATE of the row, not a second one.
    built[0].priority = 9
    built[0].save(update_fields=["priority"])
    assert Job.objects.get(pk=built[0].pk).priority == 9
    assert Job.objects.count() == 3


@pytest.mark.django_db
def test_claimed_jobs_go_through_init_when_its_signals_have_receivers():
    attnames, rows = claimed_rows()
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Job)
    try:
        built = jobs_from_rows("default", attnames, rows)
    finally:
        post_init.disconnect(receiver, sender=Job)
    assert seen == built
