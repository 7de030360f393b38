#!/usr/bin/env python3
"""What a lake writer can do without any key: make a bag consistent again.

    bag_forge.py BAGDIR [--ext-id ID]

Recomputes manifest-sha256.txt from the files under data/, Payload-Oxum
and, last, tagmanifest-sha256.txt, so that any BagIt validator accepts the
bag after its objects or tag files were replaced; --ext-id rewrites
External-Identifier.  It knows no secret: only the seal and the audit log
can tell such a bag from the one the run made.  For migrate's tests.
"""
import hashlib
import os
import sys


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    bag = sys.argv[1]
    ext = sys.argv[sys.argv.index("--ext-id") + 1] if "--ext-id" in sys.argv else None
    os.chdir(bag)
    files = []
    for top, _, names in os.walk("data"):
        for n in names:
            files.append(os.path.join(top, n))
    files.sort()
    with open("manifest-sha256.txt", "w") as f:
        for p in files:
            f.write("%s  %s\n" % (sha(p), p.replace("%", "%25")))
    total = sum(os.path.getsize(p) for p in files)
    info = []
    for line in open("bag-info.txt"):
        if line.startswith("Payload-Oxum:"):
            continue
        if ext is not None and line.startswith("External-Identifier:"):
            line = "External-Identifier: %s\n" % ext
        info.append(line)
    info.append("Payload-Oxum: %d.%d\n" % (total, len(files)))
    with open("bag-info.txt", "w") as f:
        f.write("".join(info))
    tags = []
    for line in open("tagmanifest-sha256.txt"):
        p = line.rstrip("\n").split("  ", 1)[1]
        tags.append("%s  %s\n" % (sha(p), p))
    with open("tagmanifest-sha256.txt", "w") as f:
        f.write("".join(tags))


if __name__ == "__main__":
    main()
