"""The interview over the telephone: :mod:`ivr.engine` (domain: one interview as a pure state
machine), :mod:`ivr.prompts` (domain: prompt audio) and :mod:`ivr.channels` (adapters: the
simulated, Twilio and Asterisk channels, which translate provider events into calls of
:mod:`calls` and its answers into provider actions)."""
