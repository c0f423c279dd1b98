"""Domain: the dialer, which decides who to call, when and how often (calling windows, retry
ladders, callbacks, quotas, do-not-call, pacing), leases cases to workers and turns a call's result
into AAPOR dispositions. It defines the protocol a telephony channel implements
(:mod:`dialer.protocol`) and never imports a channel."""
