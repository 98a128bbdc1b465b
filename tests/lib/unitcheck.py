#!/usr/bin/env python3
"""unitcheck.py - does what a program did under strace fit the sandbox of its systemd unit?

    unitcheck.py UNIT PROGRAM STRACE_OUTPUT...

Reads the unit's SystemCallFilter= (allow lists, then ~deny lists, groups expanded by
`systemd-analyze syscall-filter`), RestrictAddressFamilies=, MemoryDenyWriteExecute= and
ProcSubset=, and the output of `strace -f -s 256 -o FILE` of the program at work (what a process
did before it exec'd PROGRAM, such as tests/lib/sandbox.py, is not counted). Reports, one
per line: a system call the filter would refuse; a socket of a family not allowed; under
MemoryDenyWriteExecute, a mapping made writable and executable or a mprotect to executable (as
systemd refuses them); under ProcSubset=pid, a file of /proc outside the process's own that the
program opened (it would not be there). Prints a summary of what was seen; exits 1 on a problem.
"""
import re
import subprocess
import sys

# Files of /proc that ProcSubset=pid hides and that a library reads only to tune itself, doing
# well without them: (path, why)
TOLERATED_PROC = {
    "/proc/sys/vm/overcommit_memory": "glibc's malloc: without it, it assumes the default "
                                      "overcommit mode (it only decides how a thread's heap shrinks)",
}
SYSCALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], check=True,
                         capture_output=True, text=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.split()[0]
            groups[current] = []
        elif line.startswith("    ") and current and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def expand(items, groups):
    names = set()
    for item in items:
        if item.startswith("@"):
            if item not in groups:
                raise SystemExit(f"unitcheck.py: unknown system call group {item}")
            names |= expand(groups[item], groups)
        else:
            names.add(item)
    return names


def unit_settings(path):
    settings = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def allowed_syscalls(settings, groups):
    allow, deny, whitelist = set(), set(), None
    for value in settings.get("SystemCallFilter", []):
        if value.startswith("~"):
            deny |= expand(value[1:].split(), groups)
        else:
            names = expand(value.split(), groups)
            whitelist = names if whitelist is None else whitelist | names
    if whitelist is None:
        return None  # no filter
    allow = whitelist - deny
    return allow


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    unit, program, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    settings = unit_settings(unit)
    allow = allowed_syscalls(settings, syscall_groups())
    families = set()
    for value in settings.get("RestrictAddressFamilies", []):
        families |= set(value.split())
    mdwe = settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1", "on")
    proc_pid = settings.get("ProcSubset", ["all"])[-1] == "pid"

    problems, used, sockets, tolerated = [], set(), set(), set()
    for trace in traces:
        before, started = set(), set()  # pids seen before PROGRAM ran; pids of PROGRAM
        for line in open(trace, encoding="utf-8", errors="replace"):
            m = SYSCALL.match(line)
            if not m:
                continue
            name, pid = m.group(1), line.split()[0]
            if name == "execve" and f'execve("{program}"' in line:
                started.add(pid)
                before.discard(pid)
                continue
            if pid not in started:
                if started and pid not in before:
                    started.add(pid)  # a thread PROGRAM made
                else:
                    before.add(pid)
                    continue
            if "resumed>" in line[: m.end()]:
                continue  # counted where it began
            used.add(name)
            if name == "socket":
                family = re.search(r"socket\((AF_[A-Z0-9]+|\d+)", line)
                if family:
                    sockets.add(family.group(1))
                    if families and family.group(1) not in families:
                        problems.append(f"a socket of family {family.group(1)}, which the unit "
                                        f"refuses: {line.strip()}")
            if mdwe and name in ("mmap", "mprotect", "pkey_mprotect"):
                prot = re.search(r"(PROT_[A-Z_|]+)", line)
                prot = prot.group(1).split("|") if prot else []
                if "PROT_EXEC" in prot and ("PROT_WRITE" in prot or name != "mmap"):
                    problems.append(f"MemoryDenyWriteExecute would refuse: {line.strip()}")
            if proc_pid and name in ("open", "openat", "openat2", "stat", "newfstatat", "statx",
                                     "access", "faccessat", "faccessat2", "readlink",
                                     "readlinkat"):
                path = re.search(r'"(/proc/[^"]*)"', line)
                if path and not re.match(r"/proc/(self|thread-self|\d+)(/|$)", path.group(1)) \
                        and not re.search(r"= -1 ", line):
                    if path.group(1) in TOLERATED_PROC:
                        tolerated.add(f"{path.group(1)}: {TOLERATED_PROC[path.group(1)]}")
                    else:
                        problems.append(f"ProcSubset=pid hides what it read: {line.strip()}")
    if allow is not None:
        for name in sorted(used - allow):
            problems.append(f"system call {name} is not allowed by SystemCallFilter=")
    print(f"{len(used)} system calls used; sockets: {' '.join(sorted(sockets)) or 'none'}")
    for t in sorted(tolerated):
        print(f"hidden by ProcSubset=pid, and done without: {t}")
    for p in sorted(set(problems)):
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
