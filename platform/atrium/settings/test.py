"""Test settings: the same services as production, faster hashing, a fixed test domain."""

import os
import re

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("BASE_DOMAIN", "atrium.test")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from atrium.settings.base import *  # noqa: F403

# Read with integrations.sms.client.memory_outbox. The browser tests' server is another process,
# so it texts through the `file` backend into a folder the tests read (TEST_SMS_BACKEND=file).
SMS_BACKEND = os.environ.get("TEST_SMS_BACKEND", "memory")
# One folder per pytest-xdist worker: tests assert that a refused upload leaves no file behind.
_files = f"-{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
PRIVATE_ROOT = BASE_DIR / ".devdata" / f"test-private{_files}"  # noqa: F405
MEDIA_ROOT = BASE_DIR / ".devdata" / f"test-media{_files}"  # noqa: F405

# Tests flush their Redis database between tests; keep it apart from the demo's database 0, and
# under pytest-xdist give each worker its own (3, 4, ... for gw0, gw1, ...): a test starting in
# one worker must not flush what a test of another still holds there (a used member code).
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_cache_db = 3 + int(_xdist_worker[2:]) if _xdist_worker.startswith("gw") else 1
if _cache_db > 13:  # 14 is the sales bench's, 15 is spare
    raise ImproperlyConfigured("run the tests with at most 11 pytest-xdist workers")
CACHES["default"]["LOCATION"] = (  # noqa: F405
    re.sub(r"/\d*$", "", REDIS_URL.rstrip("/")) + f"/{_cache_db}"  # noqa: F405
)

# Celery and the channel layer use Redis database 2, with a key prefix per pytest-xdist worker:
# each test process starts its own Celery worker (which inherits this environment), and neither
# may take the other's tasks or events. Tests run a real worker, never eager tasks.
_test_redis = re.sub(r"/\d*$", "", REDIS_URL.rstrip("/")) + "/2"  # noqa: F405
_test_run = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = _test_redis
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "global_keyprefix": f"{_test_run}:"}
CHANNEL_LAYERS["default"]["CONFIG"].update(hosts=[_test_redis], prefix=_test_run)  # noqa: F405

# No collectstatic in tests: serve static files from the app folders (e2e runs a real server).
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
WHITENOISE_USE_FINDERS = True

# Still Argon2 (the tests check the stored algorithm), at a cost fit for hundreds of logins.
PASSWORD_HASHERS = ["atrium.hashers.TestArgon2PasswordHasher"]
