"""A cheaper Argon2 for the test suite only (same algorithm, smaller memory and time cost)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class TestArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with 8 MiB and one pass: tests log in hundreds of times."""

    time_cost = 1
    memory_cost = 8192
    parallelism = 1
