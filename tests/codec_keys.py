"""The codec keys of the test run: fixed ids, fresh key material, shared by every test client and worker."""

from dunning.client import data_converter
from dunning.codec import CodecKeys, new_key_entry

# A retired key behind the current one, as after a rotation: tests can encrypt with either.
OLD_KEY = new_key_entry("test-old")
CURRENT_KEY = new_key_entry("test-current")
TEST_KEYS_TEXT = f"{CURRENT_KEY},{OLD_KEY}"
TEST_KEYS = CodecKeys.parse(TEST_KEYS_TEXT)
TEST_CONVERTER = data_converter(TEST_KEYS)
