# -*- Python -*-
# lit configuration of the GoogleTest unit tests: runs every test of the
# MHAUnitTests binary as one lit test.

import os

import lit.formats

config.name = "MHA-Unit"
config.suffixes = []
config.test_source_root = os.path.join(config.mha_obj_root, "test", "Unit")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
