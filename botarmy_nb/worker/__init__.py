"""Celery workers over Redis: the app and its one task, the recovery loop that resumes runs
whose worker died, and the ``botarmy-nb worker`` command (Celery is imported lazily)."""
