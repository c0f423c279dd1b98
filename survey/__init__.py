"""Kernel, the bottom layer: configuration, clock, database engine and sessions with the retry
policy, the storage schema and its migrations, the vocabulary (statuses, outcomes, kinds), the
questionnaire model and its validation, phone-number protection and the audit log. It imports no
other Minyi package."""
