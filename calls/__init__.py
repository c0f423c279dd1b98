"""Services (above the domain): the call-lifecycle service, the one place where a call's life is stored, whichever
channel carries it (simulated, Twilio, Asterisk) and for staff calls in the console: opening or
resuming the interview, applying events and keys, callbacks, operator and follow-up tasks,
do-not-call, and handing the call's result to the dialer. Channels and web blueprints call it;
it imports the kernel, the dialer and the interview engine, never a channel."""
