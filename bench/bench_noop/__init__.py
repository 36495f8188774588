"""A model-less tenant app whose migrations the onboarding benchmark adds one at a time.

`atrium.settings.bench` installs it and points its migrations at `migrations/step<N>`
(`ATRIUM_BENCH_MIGRATION_STEP`, default 1), so that the benchmark can measure a deploy that
brings one new no-op migration to every tenant schema. Never installed outside the benchmark.
"""
