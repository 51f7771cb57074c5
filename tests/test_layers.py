#!/usr/bin/env python3
"""test_layers.py - the self-test of tests/layers.py (make layers runs it first).

Each test writes a small tree (fs/, include/cekurafs/) and a README with a
layer table into a temporary directory, runs the check over it, and looks at
its verdict and its lines. A check that passed whatever the tree would fail
here: every failing case is a tree that passes once the one bad line is gone.

    $ python3 tests/test_layers.py
"""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers  # noqa: E402

README = """# tree

## How it is built

Another table first, which the check must skip:

| module | job |
|---|---|
| `fs/main.c` | the loop |

| layer | module | files | job |
|---|---|---|---|
| 3 | main | `fs/main.c` | the FUSE loop |
| 2 | ops | `fs/ops.c`, `include/cekurafs/ops.h` | the operations |
| 1 | api | `fs/api.c`, `include/cekurafs/api.h` | the endpoints |
| 1 | state | `fs/state.c`, `include/cekurafs/state.h` | the state file |
| 0 | http | `fs/http.c`, `include/cekurafs/http.h`, `fs/http_internal.h` | the transport |
| 0 | json | `fs/json.c`, `include/cekurafs/json.h` | over jsmn |

## Tests

| layer | files |
|---|---|
| 9 | `fs/nothing.c` |
"""

# A tree that points down: each file and what it includes.
TREE = {
    "fs/main.c": '#include <fuse_lowlevel.h>\n#include "cekurafs/ops.h"\n#include "cekurafs/api.h"\n',
    "fs/ops.c": '#include "cekurafs/ops.h"\n#include <fuse.h>\n#include "cekurafs/state.h"\n',
    "include/cekurafs/ops.h": '#include <fuse.h>\n#include "cekurafs/api.h"\n',
    "fs/api.c": '#include "cekurafs/api.h"\n#include "cekurafs/json.h"\n',
    "include/cekurafs/api.h": '#include <stddef.h>\n#include "cekurafs/http.h"\n',
    "fs/state.c": '/* #include "cekurafs/ops.h" in a comment is no include */\n#include "cekurafs/state.h"\n',
    "include/cekurafs/state.h": "",
    "fs/http.c": '#include <curl/curl.h>\n#include "cekurafs/http.h"\n#include "http_internal.h"\n',
    "fs/http_internal.h": '#include "cekurafs/http.h"\n',
    "include/cekurafs/http.h": "",
    "fs/json.c": '#include <jsmn.h>\n#include "cekurafs/json.h"\n',
    "include/cekurafs/json.h": "",
}


class LayersTest(unittest.TestCase):
    def run_check(self, changes=None, readme=README):
        """(exit status, printed lines) of layers.py over TREE with changes
        ({path: text}, None to remove the file) and readme."""
        files = dict(TREE)
        for path, text in (changes or {}).items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        with tempfile.TemporaryDirectory() as root:
            for path, text in files.items():
                os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
                with open(os.path.join(root, path), "w") as f:
                    f.write(text)
            with open(os.path.join(root, "README.md"), "w") as f:
                f.write(readme)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = layers.main(["--root", root])
        return status, out.getvalue().splitlines()

    def check_fails_with(self, expected, changes=None, readme=README):
        """The check over TREE with changes and readme fails, printing exactly expected."""
        status, lines = self.run_check(changes, readme)
        self.assertEqual(status, 1, lines)
        self.assertEqual(lines, expected)

    def test_passes_on_a_tree_that_points_down(self):
        status, lines = self.run_check()
        self.assertEqual(status, 0, lines)
        self.assertEqual(lines, ["layers: 12 files, 13 includes, every one points down"])

    def test_fails_on_an_upward_include(self):
        self.check_fails_with(
            ["fs/api.c:2: includes cekurafs/ops.h (layer 2, ops.c's module) from a module of layer 1: up"],
            {"fs/api.c": '#include "cekurafs/api.h"\n#include "cekurafs/ops.h"\n'})

    def test_fails_on_an_upward_include_in_a_header(self):
        self.check_fails_with(
            ["include/cekurafs/json.h:1: includes cekurafs/state.h (layer 1, state.c's module) "
             "from a module of layer 0: up"],
            {"include/cekurafs/json.h": '#include "cekurafs/state.h"\n'})

    def test_fails_on_a_sideways_include(self):
        self.check_fails_with(
            ["fs/api.c:3: includes cekurafs/state.h (layer 1, state.c's module) from a module of layer 1: sideways"],
            {"fs/api.c": '#include "cekurafs/api.h"\n#include "cekurafs/json.h"\n#include "cekurafs/state.h"\n'})

    def test_fails_on_a_sideways_include_of_a_private_header(self):
        self.check_fails_with(
            ["fs/json.c:3: includes http_internal.h (layer 0, http.c's module) from a module of layer 0: sideways"],
            {"fs/json.c": '#include <jsmn.h>\n#include "cekurafs/json.h"\n#include "http_internal.h"\n'})

    def test_fails_on_a_file_missing_from_the_table(self):
        self.check_fails_with(
            ['fs/names.c: in no row of the table of README.md "How it is built"'],
            {"fs/names.c": '#include "cekurafs/json.h"\n'})

    def test_fails_on_a_header_missing_from_the_table(self):
        self.check_fails_with(
            ['include/cekurafs/names.h: in no row of the table of README.md "How it is built"'],
            {"include/cekurafs/names.h": ""})

    def test_fails_on_a_row_naming_a_file_that_does_not_exist(self):
        self.check_fails_with(["README.md:18: fs/json.c is in the table but does not exist"],
                              {"fs/json.c": None})

    def test_fails_on_a_file_in_two_rows(self):
        self.check_fails_with(["README.md:18: fs/api.c is also in the row of README.md:15"],
                              readme=README.replace("`fs/json.c`, ", "`fs/json.c`, `fs/api.c`, "))

    def test_fails_on_an_include_of_a_file_that_does_not_exist(self):
        self.check_fails_with(
            ["fs/api.c:2: includes cekurafs/nothing.h, which is not a file (include/cekurafs/nothing.h)"],
            {"fs/api.c": '#include "cekurafs/api.h"\n#include "cekurafs/nothing.h"\n'})

    def test_fails_on_a_fuse_include_outside_main_and_ops(self):
        self.check_fails_with(
            ["fs/api.c:1: includes <fuse_lowlevel.h> outside the modules of fs/main.c and fs/ops.c"],
            {"fs/api.c": '#include <fuse_lowlevel.h>\n#include "cekurafs/api.h"\n'})

    def test_finds_main_and_ops_by_file_not_by_layer(self):
        # main and ops at other layers: their fuse includes are still theirs.
        readme = README.replace("| 2 | ops |", "| 5 | ops |").replace("| 3 | main |", "| 6 | main |")
        status, lines = self.run_check(readme=readme)
        self.assertEqual(status, 0, lines)

    def test_fails_on_a_curl_include_outside_http(self):
        self.check_fails_with(
            ["fs/main.c:4: includes <curl/easy.h> outside the module of fs/http.c"],
            {"fs/main.c": TREE["fs/main.c"] + "#include <curl/easy.h>\n"})

    def test_fails_on_a_jsmn_include_outside_json(self):
        self.check_fails_with(
            ["fs/api.c:3: includes <jsmn.h> outside the module of fs/json.c"],
            {"fs/api.c": TREE["fs/api.c"] + "#include <jsmn.h>\n"})

    def test_fails_when_the_readme_has_no_layer_table(self):
        self.check_fails_with(['README.md: no table with the columns layer and files under "How it is built"'],
                              readme=README.replace("| layer | module |", "| level | module |"))

    def test_fails_on_a_layer_that_is_not_an_integer(self):
        # (and the files of that row are then in no row)
        self.check_fails_with(['README.md:18: layer "low" is not an integer',
                               'fs/json.c: in no row of the table of README.md "How it is built"',
                               'include/cekurafs/json.h: in no row of the table of README.md "How it is built"'],
                              readme=README.replace("| 0 | json |", "| low | json |"))


if __name__ == "__main__":
    unittest.main()
