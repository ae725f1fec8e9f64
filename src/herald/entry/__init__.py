"""Entry points: the `herald` command, the server and its supervisor, the ASGI
application and the delivery process. They compose the domain packages; nothing
below imports them."""
