"""The schedd: the durable job queue, submission, claims and the job lifecycle."""
