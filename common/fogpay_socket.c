/*
 * fogpay_socket.c - TCP_NODELAY on the sockets paho.mqtt.c opened.
 */
#include "fogpay_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int fogpay_socket_nodelay_all(void)
{
    int count = 0;
    for (int fd = 0; fd < FOGPAY_SOCKET_FD_MAX; fd++) {
        int type = 0;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
            continue;
        }
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof addr;
        if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0 ||
            (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
            continue;
        }
        int on = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) {
            count++;
        }
    }
    return count;
}
