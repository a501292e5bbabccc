"""The trace context a job carries (issue 13): the W3C ``traceparent`` (and
``tracestate``) of the request that recorded it, as JSON, so the relay queues a job
the queue lost with it and the job's spans still join that request's trace. NULL
with tracing off.
"""

from imflask_models.mysql.schema import TEXT, column, columns_added

columns_added("outbox", column("trace_context", TEXT, null=True))
