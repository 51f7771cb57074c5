#!/usr/bin/env python3
"""layers.py - proves that the include graph of cekurafs points one way: down.

The modules and their layers are the table of README.md, section "How it is
built": the first table there whose header row has the columns `layer` and
`files`. A row is a module; `layer` is an integer; every backticked name in
`files` that ends in .c or .h is one of the module's files.

    $ python3 tests/layers.py
    layers: 38 files, 56 includes, every one points down
    $ python3 tests/layers.py        # api.c includes state.h, both of layer 3
    fs/api.c:23: includes cekurafs/state.h (layer 3, state.c's module) from a module of layer 3: sideways

Checked over every fs/*.c, fs/*.h and include/cekurafs/*.h:
  - each file is in exactly one row, and each file a row names exists;
  - each #include "X" (cekurafs/X is include/cekurafs/X, any other name is
    relative to the including file) names a file of the same module or of a
    module of a strictly lower layer;
  - <fuse*.h> only in the modules of fs/main.c and fs/ops.c, <curl/...> only
    in the module of fs/http.c, <jsmn.h> only in the module of fs/json.c.

Exit 0 with one line when every include points down; otherwise one line per
violation and exit 1. --readme and --root let tests/test_layers.py run it over
small trees of its own.
"""
import argparse
import glob
import os
import re
import sys

SECTION = "## How it is built"
CHECKED = ("fs/*.c", "fs/*.h", "include/cekurafs/*.h")
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]')

# System headers that belong to one place: (test on the header's name, the
# files whose modules may include it, the words naming that place).
OWNED_SYSTEM_HEADERS = (
    (lambda h: h.startswith("fuse") and h.endswith(".h"), ("fs/main.c", "fs/ops.c"),
     "the modules of fs/main.c and fs/ops.c"),
    (lambda h: h.startswith("curl/"), ("fs/http.c",), "the module of fs/http.c"),
    (lambda h: h == "jsmn.h", ("fs/json.c",), "the module of fs/json.c"),
)


class Module:
    def __init__(self, layer, files, line):
        self.layer = layer
        self.files = files  # paths relative to the root, in the row's order
        self.line = line    # line of the row in the README

    def name(self):
        """How a message names the module: "state.c's module"."""
        sources = [f for f in self.files if f.endswith(".c")] or self.files
        return "%s's module" % os.path.basename(sources[0]) if sources else "an empty module"


def split_row(line):
    """The cells of a markdown table row, stripped; the outer pipes dropped."""
    cells = line.strip()
    if cells.startswith("|"):
        cells = cells[1:]
    if cells.endswith("|"):
        cells = cells[:-1]
    return [c.strip() for c in cells.split("|")]


def read_table(readme):
    """(modules, errors) from the layer table of the README at path readme."""
    with open(readme, encoding="utf-8") as f:
        lines = f.read().split("\n")
    label = os.path.basename(readme)
    start = next((i for i, l in enumerate(lines) if l.strip() == SECTION), None)
    if start is None:
        return [], ["%s: no section \"%s\"" % (label, SECTION[3:])]
    i = start + 1
    while i < len(lines) and not lines[i].startswith("## "):
        if lines[i].lstrip().startswith("|"):
            header = [c.strip("`").lower() for c in split_row(lines[i])]
            if "layer" in header and "files" in header:
                return parse_rows(lines, i, header, label)
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1  # another table: skip it whole
            continue
        i += 1
    return [], ["%s: no table with the columns layer and files under \"%s\"" % (label, SECTION[3:])]


def parse_rows(lines, i, header, label):
    col_layer, col_files = header.index("layer"), header.index("files")
    modules, errors = [], []
    i += 1
    if i < len(lines) and re.fullmatch(r"[\s|:-]+", lines[i]):
        i += 1  # the separator row
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        cells = split_row(lines[i])
        where = "%s:%d" % (label, i + 1)
        if len(cells) <= max(col_layer, col_files):
            errors.append("%s: the row has %d cells, not %d" % (where, len(cells), len(header)))
        elif not re.fullmatch(r"-?\d+", cells[col_layer].strip("`")):
            errors.append("%s: layer \"%s\" is not an integer" % (where, cells[col_layer]))
        else:
            files = [t for t in re.findall(r"`([^`]+)`", cells[col_files]) if t.endswith((".c", ".h"))]
            if not files:
                errors.append("%s: the row names no .c or .h file" % where)
            modules.append(Module(int(cells[col_layer].strip("`")), files, i + 1))
        i += 1
    return modules, errors


def strip_comments(text):
    """text with every C comment blanked, newlines kept, so that line numbers hold."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def includes(root, path):
    """[(line number, '<' or '"', name)] of the file root/path."""
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        text = strip_comments(f.read())
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        m = INCLUDE.match(line)
        if m:
            found.append((number, m.group(1), m.group(2)))
    return found


def resolve(path, name):
    """The root-relative path a quoted include names from the file path."""
    if name.startswith("cekurafs/"):
        return os.path.normpath(os.path.join("include", name))
    return os.path.normpath(os.path.join(os.path.dirname(path), name))


def check(root, readme):
    """(lines to print, ok): the violations, or the one line of success."""
    modules, errors = read_table(readme)
    label = os.path.basename(readme)
    if not modules:
        return errors, False  # no table: every file would be "in no row"
    owner = {}
    for m in modules:
        for f in m.files:
            f = os.path.normpath(f)
            if f in owner and owner[f] is not m:
                errors.append("%s:%d: %s is also in the row of %s:%d" % (label, m.line, f, label, owner[f].line))
                continue
            owner[f] = m
            if not os.path.isfile(os.path.join(root, f)):
                errors.append("%s:%d: %s is in the table but does not exist" % (label, m.line, f))
    checked = sorted({os.path.relpath(p, root) for g in CHECKED for p in glob.glob(os.path.join(root, g))})
    for f in checked:
        if f not in owner:
            errors.append("%s: in no row of the table of %s \"%s\"" % (f, label, SECTION[3:]))
    scanned = sorted(set(checked) | {f for f in owner if os.path.isfile(os.path.join(root, f))})

    allowed = []
    for test, files, words in OWNED_SYSTEM_HEADERS:
        allowed.append((test, {owner[f] for f in files if f in owner}, words))

    count = 0
    for f in scanned:
        mine = owner.get(f)
        for number, kind, name in includes(root, f):
            where = "%s:%d: includes %s" % (f, number, name)
            if kind == "<":
                if mine is None:
                    continue  # reported above as missing from the table
                for test, modules_ok, words in allowed:
                    if test(name) and mine not in modules_ok:
                        errors.append("%s:%d: includes <%s> outside %s" % (f, number, name, words))
                continue
            count += 1
            target = resolve(f, name)
            if not os.path.isfile(os.path.join(root, target)):
                errors.append("%s, which is not a file (%s)" % (where, target))
                continue
            theirs = owner.get(target)
            if theirs is None:
                if target not in checked:
                    errors.append("%s (%s), in no row of the table" % (where, target))
                continue  # reported above as missing from the table
            if mine is None or theirs is mine or theirs.layer < mine.layer:
                continue
            direction = "sideways" if theirs.layer == mine.layer else "up"
            errors.append("%s (layer %d, %s) from a module of layer %d: %s" %
                          (where, theirs.layer, theirs.name(), mine.layer, direction))
    if errors:
        return errors, False
    return ["layers: %d files, %d includes, every one points down" % (len(scanned), count)], True


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Prove that the include graph points down the layers "
                                     "of README.md's \"How it is built\" table.")
    parser.add_argument("--root", default=os.path.dirname(here), help="the source tree (default: this one)")
    parser.add_argument("--readme", help="the README with the table (default: ROOT/README.md)")
    args = parser.parse_args(argv)
    readme = args.readme or os.path.join(args.root, "README.md")
    if not os.path.isfile(readme):
        print("layers: %s: no such file" % readme, file=sys.stderr)
        return 1
    lines, ok = check(args.root, readme)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
