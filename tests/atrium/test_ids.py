"""`atrium.ids.uuid4_strings`: what `str(uuid.uuid4())` gives, made in bulk."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from atrium.ids import uuid4_strings


@given(count=st.integers(0, 64))
def test_each_string_is_a_canonical_random_version_4_uuid(count):
    made = uuid4_strings(count)
    assert len(made) == count
    parsed = [uuid.UUID(text) for text in made]
    assert [str(u) for u in parsed] == made  # canonical: lower-case hex, hyphens in place
    assert {u.version for u in parsed} <= {4}
    assert {u.variant for u in parsed} <= {uuid.RFC_4122}
    assert len(set(made)) == count


def test_every_variant_nibble_is_mapped_into_8_to_b():
    # 2,000 ids cover each of the 16 random nibbles under the variant bits many times over.
    nibbles = {text[19] for text in uuid4_strings(2000)}
    assert nibbles == {"8", "9", "a", "b"}
