/*
 * bench_mqtt.h - the load generator's MQTT 3.1.1 client, written by hand:
 * many connections on non-blocking sockets in one epoll loop on one thread,
 * packets encoded into each connection's write buffer and parsed in place
 * from its read buffer, so that the generator costs the machine little.
 *
 * Only what the benchmark sends and receives: CONNECT with username and
 * password, SUBSCRIBE at QoS 1, PUBLISH at QoS 0 or 1, PUBACK; CONNACK,
 * SUBACK, PUBACK and PUBLISH are read. A connection's buffers are owned by
 * its bench_conn and freed by bench_conn_close().
 */
#ifndef FOGPAY_BENCH_MQTT_H
#define FOGPAY_BENCH_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Buffers per connection: a receipt or echo is under 1 KiB, a window of them
 * fits many times over; a connection whose peer stops reading fails rather
 * than grow. */
#define BENCH_CONN_READ_MAX  (64 * 1024)
#define BENCH_CONN_WRITE_MAX (256 * 1024)

typedef struct bench_conn {
    int fd;
    int index; /* the caller's: the device number */
    bool connacked;
    bool subacked;
    bool failed;
    uint16_t next_packet_id;
    int inflight;  /* the caller's window count */
    uint64_t next; /* the caller's: next message number of this device */
    uint8_t *rbuf; /* owned */
    size_t rlen;
    uint8_t *wbuf; /* owned */
    size_t wlen;
} bench_conn;

/* What a parsed packet hands the caller. A PUBLISH at QoS 1 is acknowledged
 * by the client before the callback. */
typedef struct bench_handlers {
    void (*on_publish)(void *ctx, bench_conn *c, const char *topic, size_t topic_len,
                       const uint8_t *payload, size_t len);
    void (*on_puback)(void *ctx, bench_conn *c, uint16_t packet_id);
    void *ctx;
} bench_handlers;

/* Starts a non-blocking connection to 127.0.0.1:port and queues CONNECT
 * (clean session, keep-alive 600 s; user and pass may be NULL). False with a
 * message on stderr when no socket could be made. */
bool bench_conn_open(bench_conn *c, int index, int port, const char *client_id, const char *user,
                     const char *pass);
void bench_conn_close(bench_conn *c);

/* Queue packets; false when the write buffer is full (the connection is
 * marked failed). Returns the packet id used through *packet_id if given. */
bool bench_conn_subscribe(bench_conn *c, const char *topic);
bool bench_conn_publish(bench_conn *c, const char *topic, const uint8_t *payload, size_t len,
                        int qos, uint16_t *packet_id);

/* Writes what is queued as far as the socket takes it. */
bool bench_conn_flush(bench_conn *c);

/* Reads what the socket has and hands every whole packet to h. False when
 * the peer closed or sent something malformed (marked failed). */
bool bench_conn_read(bench_conn *c, const bench_handlers *h);

#endif
