"""The built-in areas of the server; each module registers one :class:`~mlake.server.extensions.Area`."""
