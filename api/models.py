from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A person's key for scripts and pipelines. Only its hash is kept; shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'release pipeline'.")
    prefix = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Tokens end on their own (API_TOKEN_DAYS), so a forgotten one does not work for ever.
    expires_at = models.DateTimeField(null=True, blank=True)
    read_only = models.BooleanField(default=False, help_text="Reads only: GET, HEAD and OPTIONS.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
