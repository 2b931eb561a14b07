/* A listening TCP socket for the HTTP services (REST on 8091, query on 8093). */
#ifndef DV_SERVER_LISTEN_H
#define DV_SERVER_LISTEN_H

#include <stddef.h>

/* Bind host:port (host NULL: the wildcard address the resolver lists first; port 0: a free one)
 * and listen. The socket, with its address family in *family, or -1 with a message naming what
 * (e.g. "REST") in err. */
int dv_listen_tcp(const char *what, const char *host, int port, int *family, char *err,
                  size_t errlen);
/* The port a socket is bound to, or -1. */
int dv_listen_port(int fd);

#endif
