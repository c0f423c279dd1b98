"""A faithful fake of Asterisk 22.10.1's ARI for tests and the benchmark (see server.py)."""

from ari_fake.residents import HangUp, Mute, Press, Resident, Silent, Speak, answers
from ari_fake.server import FakeAsterisk
from ari_fake.spec import AriSpec, spec_dir

__all__ = ["AriSpec", "FakeAsterisk", "HangUp", "Mute", "Press", "Resident", "Silent", "Speak", "answers",
           "spec_dir"]
