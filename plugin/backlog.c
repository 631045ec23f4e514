/*
 * backlog.c - the listen backlog of the broker's listeners.
 *
 * Mosquitto 2.0 listens with a backlog of 100 (src/net.c: listen(sock,
 * 100)) and offers no setting for it. When more devices connect at once
 * than the accept queue holds (a site after a power cut), the kernel drops
 * their SYNs (nstat: TcpExtListenOverflows) and each retries only after
 * the 1 s initial SYN timeout, then 3 s, 7 s: a storm of 1,000 logins takes
 * over a second however fast each login is. On Linux listen() on a
 * listening socket sets its backlog again, so on its first tick (after the
 * broker has opened its listeners) the plugin calls listen(fd,
 * plugin_opt_listen_backlog) on every listening socket of the process; the
 * kernel caps the value at net.core.somaxconn. The plugin opens no sockets
 * of its own, so these are the broker's listeners (and any websockets
 * listener's), nothing else.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "gateway.h"

/* True when fd is a socket in the listening state. */
static bool backlog__is_listener(int fd)
{
    int accepting = 0;
    socklen_t len = sizeof accepting;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting;
}

void fogpay_backlog_raise(fogpay_gateway *gw)
{
    gw->backlog_done = true;
    if (gw->options.listen_backlog == 0) {
        return;
    }
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "fogpay: listen backlog left at the broker's: /proc/self/fd: %s",
                             strerror(errno));
        return;
    }
    int raised = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char *end = NULL;
        long fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == dirfd(dir) ||
            !backlog__is_listener((int)fd)) {
            continue;
        }
        if (listen((int)fd, (int)gw->options.listen_backlog) == 0) {
            raised++;
        } else {
            mosquitto_log_printf(MOSQ_LOG_WARNING, "fogpay: listen backlog of socket %ld: %s", fd,
                                 strerror(errno));
        }
    }
    closedir(dir);
    mosquitto_log_printf(MOSQ_LOG_INFO,
                         "fogpay: listen backlog %u on %d listening sockets (capped by "
                         "net.core.somaxconn)",
                         gw->options.listen_backlog, raised);
}
