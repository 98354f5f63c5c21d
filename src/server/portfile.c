/*
 * portfile.c - the ports file of MEMCACHED_PORT_FILENAME (see portfile.h).
 * The lines are memcached's (server_socket() in memcached.c): transport,
 * address family, port; unix sockets are not listed.
 */
#include "server/portfile.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "server/listener.h"
#include "server/udp.h"

static void line(FILE *f, int fd, const char *transport)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET)
        fprintf(f, "%s INET: %u\n", transport,
                ntohs(((struct sockaddr_in *)&ss)->sin_port));
    else if (ss.ss_family == AF_INET6)
        fprintf(f, "%s INET6: %u\n", transport,
                ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

int portfile_write(const struct listeners *ls, const struct udp_sockets *u,
                   const struct logger *lg)
{
    const char *path = getenv("MEMCACHED_PORT_FILENAME");
    char tmp[4096];
    if (path == NULL || *path == '\0')
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.lck", path);
    FILE *f = fopen(tmp, "a");
    if (f == NULL) {
        log_error(lg, "Failed to open \"%s\": %s", tmp, strerror(errno));
        return -1;
    }
    for (int i = 0; i < ls->n; i++)
        if (!ls->l[i].is_unix)
            line(f, ls->l[i].fd, "TCP");
    for (int i = 0; u != NULL && i < u->n; i++)
        line(f, u->fd[i], "UDP");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        log_error(lg, "Failed to write \"%s\": %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
