#!/usr/bin/python3
"""sandbox.py - runs a program under the seccomp part of a systemd unit's sandbox

    sandbox.py UNIT -- PROGRAM ARGS...

Where systemd cannot run (a container, CI), this applies what systemd would enforce with
seccomp for UNIT, the way systemd does it, then execs PROGRAM:
  SystemCallFilter=        a system call outside the filter fails (SystemCallErrorNumber=, or
                           the process is killed as systemd's default does)
  RestrictAddressFamilies= socket() of another family fails with EAFNOSUPPORT
  MemoryDenyWriteExecute=  mmap() writable and executable, and mprotect() to executable, fail
                           with EPERM
  RestrictRealtime=        a realtime scheduling policy fails with EPERM
Namespaces, capabilities and mounts are not applied (they need root and systemd's setup). Uses
Debian's python3-seccomp (libseccomp), hence /usr/bin/python3.
"""
import errno
import os
import socket
import subprocess
import sys

import seccomp


def groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], check=True,
                         capture_output=True, text=True).stdout
    found, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.split()[0]
            found[current] = []
        elif line.startswith("    ") and current and not line.strip().startswith("#"):
            found[current].append(line.strip())
    return found


def expand(items, known):
    names = set()
    for item in items:
        names |= expand(known[item], known) if item.startswith("@") else {item}
    return names


def settings(path):
    found = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    unit = settings(sys.argv[1])
    program = sys.argv[3:]
    known = groups()
    err = unit.get("SystemCallErrorNumber", [None])[-1]
    refuse = seccomp.ERRNO(getattr(errno, err)) if err else seccomp.KILL_PROCESS
    # Each part is a filter of its own, as systemd installs them: the kernel takes the most
    # restrictive answer of all.
    filters = []

    # the system call filter: allow lists, then ~deny lists; what is not allowed is refused
    allow, deny = None, set()
    for value in unit.get("SystemCallFilter", []):
        if value.startswith("~"):
            deny |= expand(value[1:].split(), known)
        else:
            allow = (allow or set()) | expand(value.split(), known)
    if allow is not None:
        f = seccomp.SyscallFilter(defaction=refuse)
        for name in sorted(allow - deny):
            try:
                f.add_rule(seccomp.ALLOW, name)
            except (RuntimeError, ValueError, OSError):
                pass  # a name this architecture does not have
        filters.append(f)

    families = set()
    for value in unit.get("RestrictAddressFamilies", []):
        families |= {getattr(socket, name) for name in value.split()}
    if families:
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        filters.append(f)
        for family in range(0, 64):
            if family not in families:
                f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
                           seccomp.Arg(0, seccomp.EQ, family))
        f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.GE, 64))

    if unit.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "on", "1"):
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        filters.append(f)
        wx = 0x2 | 0x4  # PROT_WRITE | PROT_EXEC
        f.add_rule(seccomp.ERRNO(errno.EPERM), "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
        for name in ("mprotect", "pkey_mprotect"):
            f.add_rule(seccomp.ERRNO(errno.EPERM), name, seccomp.Arg(2, seccomp.MASKED_EQ, 4, 4))
        f.add_rule(seccomp.ERRNO(errno.EPERM), "shmat",
                   seccomp.Arg(2, seccomp.MASKED_EQ, 0o100000, 0o100000))  # SHM_EXEC

    if unit.get("RestrictRealtime", ["no"])[-1] in ("yes", "true", "on", "1"):
        # SCHED_FIFO 1, SCHED_RR 2, SCHED_DEADLINE 6
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        filters.append(f)
        for policy in (1, 2, 6):
            f.add_rule(seccomp.ERRNO(errno.EPERM), "sched_setscheduler",
                       seccomp.Arg(1, seccomp.EQ, policy))

    # the system call filter last: it may refuse seccomp() itself
    for f in filters[1:] + filters[:1] if allow is not None else filters:
        f.load()  # libseccomp sets no_new_privs first, as NoNewPrivileges= does
    os.execvp(program[0], program)


if __name__ == "__main__":
    main()
