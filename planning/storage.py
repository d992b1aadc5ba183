"""Static files storage: hashed names even under DEBUG.

Django's manifest storage hands out unhashed URLs when DEBUG is on, so `make run` (which runs
with DEBUG) would serve every asset with `max-age=0`. `make run` collects static files before it
starts, so the manifest is always there: ask for the hashed name regardless of DEBUG.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def url(self, name: str | None, force: bool = False) -> str:
        return super().url(name, force=True)
