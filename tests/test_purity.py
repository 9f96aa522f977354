"""The codec and the text engine are pure: importing them loads no Twisted."""

import subprocess
import sys


def test_codec_and_text_import_no_twisted():
    code = (
        "import sys, smppd.pdu, smppd.text;"
        "bad = sorted(m for m in sys.modules if m == 'twisted' or m.startswith('twisted.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
