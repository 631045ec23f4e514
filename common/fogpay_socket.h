/*
 * fogpay_socket.h - the one socket option fogpay sets under paho.mqtt.c.
 *
 * paho's clients open their TCP sockets themselves and never set
 * TCP_NODELAY, so two small packets written back to back (a PUBACK, then
 * the next PUBLISH) wait for the peer's delayed ACK under Nagle's
 * algorithm: about 40 ms each time on Linux. fogpay's MQTT programs hold no
 * TCP socket but paho's, so after each connect they set the option on every
 * TCP socket of the process.
 */
#ifndef FOGPAY_SOCKET_H
#define FOGPAY_SOCKET_H

/* Highest descriptor looked at: far above what one client process opens. */
#define FOGPAY_SOCKET_FD_MAX 1024

/* Sets TCP_NODELAY on every open TCP socket (IPv4 or IPv6) with a
 * descriptor below FOGPAY_SOCKET_FD_MAX; returns how many. Other
 * descriptors are left as they are. */
int fogpay_socket_nodelay_all(void);

#endif
