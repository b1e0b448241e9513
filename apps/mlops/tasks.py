from celery import shared_task


@shared_task(name="apps.mlops.tasks.train", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train(run_id: int) -> None:
    """Runs one training job on the ``ml`` queue (concurrency 1)."""
    from apps.mlops.services import training_run_execute

    training_run_execute(run_id=run_id)


@shared_task(name="apps.mlops.tasks.shards_work", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def shards_work(job_id: str) -> None:
    """A worker's part of a sharded job (``apps.mlops.shards.work``), on the ``shards`` queue."""
    from apps.mlops.shards import work

    work(job_id)
