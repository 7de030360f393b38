#!/usr/bin/env python3
"""many_files.py ROOT N: N files of 100 random bytes under ROOT (new), in
folders of 1,000: d0000/f000 ... d0000/f999, d0001/f000 ...

One process for the whole tree: a shell loop would spawn one a file, and
the scale tests and benchmark make up to a million (issue 20).
"""
import os
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    folder = root
    for i in range(n):
        if i % 1000 == 0:
            folder = os.path.join(root, "d%04d" % (i // 1000))
            os.makedirs(folder)
        with open(os.path.join(folder, "f%03d" % (i % 1000)), "wb") as f:
            f.write(os.urandom(100))


if __name__ == "__main__":
    main()
