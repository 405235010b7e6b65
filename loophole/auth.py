"""Django's model backend, under the dotted path AUTHENTICATION_BACKENDS names.

A session records the path of the backend that logged it in, and Django logs out a session whose
backend is no longer listed: the name stays so that no customer is logged out by a change of backend.
"""

from django.contrib.auth.backends import ModelBackend


class Backend(ModelBackend):
    """Django's own backend, unchanged."""
