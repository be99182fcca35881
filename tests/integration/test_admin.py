import pytest
from django.urls import reverse

from steady_queue.models import FailedExecution, Job, Pause, ReadyExecution
from steady_queue.models.job import job_pk
from tests.testapp import tasks

pytestmark = pytest.mark.django_db

MODELS = [
    "job", "readyexecution", "scheduledexecution", "blockedexecution", "claimedexecution",
    "failedexecution", "process", "pause", "semaphore", "recurringtask",
]


@pytest.fixture
def failed_job(run_tasks):
    result = tasks.fail.enqueue("admin")
    run_tasks()
    return result


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_renders(admin_client, failed_job, model):
    tasks.add.enqueue(1, 2)
    response = admin_client.get(reverse(f"admin:steady_queue_{model}_changelist"))
    assert response.status_code == 200


def test_a_job_page_shows_its_status_and_traceback(admin_client, failed_job):
    response = admin_client.get(reverse("admin:steady_queue_job_change", args=[job_pk(failed_job.id)]))
    assert response.status_code == 200
    assert b"Failed" in response.content and b"ValueError: admin" in response.content


def test_retry_and_discard_actions(admin_client, failed_job, run_tasks):
    url = reverse("admin:steady_queue_failedexecution_changelist")
    admin_client.post(url, {"action": "retry_selected", "_selected_action": [job_pk(failed_job.id)]})
    assert ReadyExecution.objects.filter(job_id=job_pk(failed_job.id)).exists()
    assert not FailedExecution.objects.exists()

    other = tasks.fail.enqueue("again")
    run_tasks()
    admin_client.post(url, {"action": "discard_selected", "_selected_action": [job_pk(other.id)]})
    assert not Job.objects.filter(pk=job_pk(other.id)).exists()


def test_pausing_from_the_admin(admin_client):
    admin_client.post(reverse("admin:steady_queue_pause_add"), {"queue_name": "email"})
    assert list(Pause.objects.values_list("queue_name", flat=True)) == ["email"]


def test_a_job_is_found_by_its_result_id(admin_client, failed_job):
    tasks.add.enqueue(1, 2)
    response = admin_client.get(reverse("admin:steady_queue_job_changelist"), {"q": failed_job.id})
    assert response.context["cl"].result_count == 1
    page = admin_client.get(reverse("admin:steady_queue_job_change", args=[job_pk(failed_job.id)]))
    assert failed_job.id.encode() in page.content
