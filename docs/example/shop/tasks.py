import time

from django.tasks import task


@task(queue_name="email", priority=10)
def send_welcome_email(customer):
    """Takes a model instance: Steady Queue stores its primary key and loads it again in the worker."""
    time.sleep(0.2)
    return f"welcome e-mail sent to {customer.email}"


@task(queue_name="reports")
def build_sales_report(day):
    time.sleep(0.5)
    return {"day": day.isoformat(), "orders": 42}


@task()
def add(a, b):
    return a + b


@task()
def refuse_refund(order_id):
    raise ValueError(f"order {order_id} is past the refund window")
