"""The one exception type the scripts turn into a one-line message and a non-zero exit."""


class DDPGError(Exception):
    """A problem with the user's input or files, stated so they know what to do."""
