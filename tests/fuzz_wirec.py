"""Long fuzzing of the C decoder, for `make fuzz` (not part of make test): the mutation fuzzer of
tests/test_wire_fast.py for many more rounds and edits, on a build of _wirec.c with AddressSanitizer and
UndefinedBehaviorSanitizer, so an out-of-bounds read that happens not to crash still stops the run.

Usage: python tests/fuzz_wirec.py BUILD_DIR ROUNDS SEED  (BUILD_DIR holds the sanitizer build of _wirec)
"""
import importlib.util
import sys
from pathlib import Path


def main(build_dir, rounds, seed):
    so = next(Path(build_dir).glob("_wirec*.so"))
    spec = importlib.util.spec_from_file_location("ovm3._wirec", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["ovm3._wirec"] = module  # what tests/test_wire_fast.py imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests import test_wire_fast

    assert test_wire_fast._wirec is module
    accepted, declined = test_wire_fast.fuzz(rounds, seed, max_edits=6)
    print("fuzz: %d bodies, %d read by C and equal to the reference, %d declined" % (
        rounds, accepted, declined))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
