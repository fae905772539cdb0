"""Run a command on a pseudo-terminal, answering passphrase prompts.

Usage: PTY_ANSWERS=$'first\nsecond' python3 pty_drive.py CMD [ARGS...]

Each time the output since the last answer ends with a prompt mentioning "passphrase",
the next answer is typed. Everything the command printed is echoed to stdout; the exit
status is the command's. Gives up (status 124) after PTY_DEADLINE seconds (default 120).
Used by the mpcium-cli tests to drive Go `age` (which reads passphrases only from a TTY)
and the CLI's own terminal prompts.
"""
import os
import pty
import re
import select
import sys
import time

answers = [a for a in os.environ.get("PTY_ANSWERS", "").split("\n") if a != ""]
deadline = time.monotonic() + float(os.environ.get("PTY_DEADLINE", "120"))
prompt = re.compile(rb"(?i)passphrase[^\n]*:\s*$")

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

pending = b""
seen = b""
while True:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        os.kill(pid, 9)
        sys.stdout.write(seen.decode(errors="replace"))
        sys.exit(124)
    ready, _, _ = select.select([fd], [], [], remaining)
    if not ready:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    pending += chunk
    if prompt.search(pending) and answers:
        os.write(fd, answers.pop(0).encode() + b"\n")
        pending = b""

_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
