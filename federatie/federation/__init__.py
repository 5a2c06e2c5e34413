"""Server-to-server federation: inbox, handlers, delivery, fetching."""
