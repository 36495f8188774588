"""Test settings: the same services as production, faster hashing, a fixed test domain."""

import os
import re

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("BASE_DOMAIN", "atrium.test")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from atrium.settings.base import *  # noqa: F403

PRIVATE_ROOT = BASE_DIR / ".devdata" / "test-private"  # noqa: F405
MEDIA_ROOT = BASE_DIR / ".devdata" / "test-media"  # noqa: F405

# Tests flush their Redis database between tests; keep it apart from the demo's database 0.
CACHES["default"]["LOCATION"] = re.sub(r"/\d*$", "", REDIS_URL.rstrip("/")) + "/1"  # noqa: F405

# No collectstatic in tests: serve static files from the app folders (e2e runs a real server).
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
WHITENOISE_USE_FINDERS = True

# Still Argon2 (the tests check the stored algorithm), at a cost fit for hundreds of logins.
PASSWORD_HASHERS = ["atrium.hashers.TestArgon2PasswordHasher"]
