"""Background jobs on a table of the database: uploads that take longer than a web request.

The web app stores the upload and queues a job (:func:`jobs.queue.enqueue`); a worker, ``minyi
worker`` or a thread of ``minyi web``, claims it, runs it with a heartbeat that renews its lease
and writes its progress, and stores the result and the files it made in the job's own
transaction. docs/jobs.md says why a table and not Redis.
"""
