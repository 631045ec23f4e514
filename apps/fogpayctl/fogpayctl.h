/*
 * fogpayctl.h - shared between fogpayctl's offline commands (fogpayctl.c)
 * and its online mode (fogpayctl_online.c).
 */
#ifndef FOGPAYCTL_H
#define FOGPAYCTL_H

/* How to reach a gateway's broker as an operator. Strings are borrowed
 * from argv. */
typedef struct fogpayctl_connection {
    const char *host;
    int port;
    const char *username;
    const char *password;
    const char *cafile; /* TLS when set */
    int timeout_ms;
} fogpayctl_connection;

/* Sends the control command argv[0] with fields from "--some-field value"
 * pairs (camelCased), prints the JSON reply, and returns the exit status:
 * 0 when every response is without error, 1 on an error reply, a network
 * failure or a timeout, 2 for a usage error. */
int fogpayctl_online(const fogpayctl_connection *conn, int argc, char **argv);

#endif
