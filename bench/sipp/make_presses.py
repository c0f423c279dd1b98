"""Key presses for the sipp residents of ``resident.xml``: sip-tester's RFC 4733 captures rewritten
so that press ``i`` of a call has its own RTP sequence numbers and timestamp.

As shipped, every ``dtmf_2833_<digit>.pcap`` starts at the same sequence number and timestamp, and
Asterisk drops a second press of a digit as a retransmission of the first event (a resident
pressing 1, 1, 1 is heard once). Writes ``key01.pcap`` ... into the current directory, where sipp
then runs (docs/asterisk.md, "Residents as SIP phones")::

    python bench/sipp/make_presses.py [KEYS]    # default: the bundled questionnaire's 16 keys
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

CAPTURES = Path("/usr/share/sip-tester")  # Debian's sip-tester
KEYS = "1111211231222115"
_FILE_HEADER, _RECORD_HEADER = 24, 16  # pcap's global header, and each packet's
_ETHERNET = 14


def press(digit: str, i: int) -> bytes:
    """The capture of ``digit`` with its RTP sequence numbers moved on by 20 and its timestamp by
    3 s (24,000 samples at 8 kHz) for each press ``i`` before it; UDP checksums cleared (IPv4)."""
    name = {"#": "pound", "*": "star"}.get(digit, digit)
    data = (CAPTURES / f"dtmf_2833_{name}.pcap").read_bytes()
    out, offset = bytearray(data[:_FILE_HEADER]), _FILE_HEADER
    while offset < len(data):
        header = data[offset:offset + _RECORD_HEADER]
        length = struct.unpack("<IIII", header)[2]
        packet = bytearray(data[offset + _RECORD_HEADER:offset + _RECORD_HEADER + length])
        offset += _RECORD_HEADER + length
        udp = _ETHERNET + (packet[_ETHERNET] & 0x0F) * 4
        rtp = udp + 8
        seq, timestamp = struct.unpack(">HI", packet[rtp + 2:rtp + 8])
        struct.pack_into(">HI", packet, rtp + 2, (seq + 20 * i) & 0xFFFF, (timestamp + 24000 * i) & 0xFFFFFFFF)
        packet[udp + 6:udp + 8] = b"\0\0"
        out += header + packet
    return bytes(out)


def main(keys: str) -> None:
    for i, digit in enumerate(keys):
        Path(f"key{i + 1:02d}.pcap").write_bytes(press(digit, i))
    print(f"{len(keys)} captures written")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else KEYS)
