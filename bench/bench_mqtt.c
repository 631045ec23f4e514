/*
 * bench_mqtt.c - the load generator's hand-written MQTT 3.1.1 client (see
 * bench_mqtt.h): encoding into the write buffer, parsing in place from the
 * read buffer, non-blocking socket I/O.
 */
#include "bench_mqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MQTT_CONNECT   0x10
#define MQTT_CONNACK   0x20
#define MQTT_PUBLISH   0x30
#define MQTT_PUBACK    0x40
#define MQTT_SUBSCRIBE 0x82
#define MQTT_SUBACK    0x90
#define MQTT_PINGRESP  0xD0
#define KEEPALIVE_S    600

static bool room(bench_conn *c, size_t n)
{
    if (c->wlen + n > BENCH_CONN_WRITE_MAX) {
        c->failed = true;
        return false;
    }
    return true;
}

static void put_u8(bench_conn *c, uint8_t v)
{
    c->wbuf[c->wlen++] = v;
}

static void put_u16(bench_conn *c, uint16_t v)
{
    put_u8(c, (uint8_t)(v >> 8));
    put_u8(c, (uint8_t)v);
}

static void put_str(bench_conn *c, const char *s, size_t len)
{
    put_u16(c, (uint16_t)len);
    memcpy(c->wbuf + c->wlen, s, len);
    c->wlen += len;
}

/* Fixed header: type byte and the remaining length as a varint. */
static void put_header(bench_conn *c, uint8_t type, size_t remaining)
{
    put_u8(c, type);
    do {
        uint8_t b = (uint8_t)(remaining % 128);
        remaining /= 128;
        put_u8(c, remaining > 0 ? (uint8_t)(b | 0x80) : b);
    } while (remaining > 0);
}

bool bench_conn_open(bench_conn *c, int index, int port, const char *client_id, const char *user,
                     const char *pass)
{
    memset(c, 0, sizeof *c);
    c->index = index;
    c->next_packet_id = 1;
    c->rbuf = malloc(BENCH_CONN_READ_MAX);
    c->wbuf = malloc(BENCH_CONN_WRITE_MAX);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (!c->rbuf || !c->wbuf || c->fd < 0) {
        perror("bench_conn_open: socket");
        c->failed = true;
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        perror("bench_conn_open: connect");
        c->failed = true;
        return false;
    }
    size_t id_len = strlen(client_id), user_len = user ? strlen(user) : 0,
           pass_len = pass ? strlen(pass) : 0;
    size_t remaining = 10 + 2 + id_len + (user ? 2 + user_len : 0) + (pass ? 2 + pass_len : 0);
    uint8_t flags = 0x02 | (user ? 0x80 : 0) | (pass ? 0x40 : 0);
    put_header(c, MQTT_CONNECT, remaining);
    put_str(c, "MQTT", 4);
    put_u8(c, 4);
    put_u8(c, flags);
    put_u16(c, KEEPALIVE_S);
    put_str(c, client_id, id_len);
    if (user) {
        put_str(c, user, user_len);
    }
    if (pass) {
        put_str(c, pass, pass_len);
    }
    return true;
}

void bench_conn_close(bench_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    free(c->rbuf);
    free(c->wbuf);
    c->rbuf = c->wbuf = NULL;
    c->rlen = c->wlen = 0;
}

static uint16_t take_packet_id(bench_conn *c)
{
    uint16_t id = c->next_packet_id++;
    if (c->next_packet_id == 0) {
        c->next_packet_id = 1;
    }
    return id;
}

bool bench_conn_subscribe(bench_conn *c, const char *topic)
{
    size_t len = strlen(topic);
    if (!room(c, 8 + len)) {
        return false;
    }
    put_header(c, MQTT_SUBSCRIBE, 2 + 2 + len + 1);
    put_u16(c, take_packet_id(c));
    put_str(c, topic, len);
    put_u8(c, 1);
    return true;
}

bool bench_conn_publish(bench_conn *c, const char *topic, const uint8_t *payload, size_t len,
                        int qos, uint16_t *packet_id)
{
    size_t topic_len = strlen(topic);
    if (!room(c, 5 + 2 + topic_len + 2 + len)) {
        return false;
    }
    put_header(c, (uint8_t)(MQTT_PUBLISH | (qos > 0 ? 0x02 : 0)),
               2 + topic_len + (qos > 0 ? 2 : 0) + len);
    put_str(c, topic, topic_len);
    if (qos > 0) {
        uint16_t id = take_packet_id(c);
        put_u16(c, id);
        if (packet_id) {
            *packet_id = id;
        }
    }
    memcpy(c->wbuf + c->wlen, payload, len);
    c->wlen += len;
    return true;
}

static bool queue_puback(bench_conn *c, uint16_t id)
{
    if (!room(c, 4)) {
        return false;
    }
    put_u8(c, MQTT_PUBACK);
    put_u8(c, 2);
    put_u16(c, id);
    return true;
}

bool bench_conn_flush(bench_conn *c)
{
    size_t done = 0;
    while (done < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + done, c->wlen - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) {
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "bench: connection %d: send: %s\n", c->index, strerror(errno));
            c->failed = true;
            return false;
        }
        done += (size_t)n;
    }
    memmove(c->wbuf, c->wbuf + done, c->wlen - done);
    c->wlen -= done;
    return true;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* One whole packet: type byte and body. False when malformed. */
static bool handle_packet(bench_conn *c, uint8_t type, const uint8_t *body, size_t len,
                          const bench_handlers *h)
{
    switch (type & 0xF0) {
    case MQTT_CONNACK:
        if (len < 2 || body[1] != 0) {
            fprintf(stderr, "bench: connection %d refused (CONNACK code %d)\n", c->index,
                    len >= 2 ? body[1] : -1);
            return false;
        }
        c->connacked = true;
        return true;
    case MQTT_SUBACK:
        if (len < 3 || body[2] == 0x80) {
            fprintf(stderr, "bench: connection %d: subscription refused\n", c->index);
            return false;
        }
        c->subacked = true;
        return true;
    case MQTT_PUBACK:
        if (len < 2) {
            return false;
        }
        if (h->on_puback) {
            h->on_puback(h->ctx, c, get_u16(body));
        }
        return true;
    case MQTT_PUBLISH: {
        int qos = (type >> 1) & 3;
        if (len < 2) {
            return false;
        }
        size_t topic_len = get_u16(body), at = 2 + topic_len;
        if (at + (qos > 0 ? 2 : 0) > len) {
            return false;
        }
        if (qos > 0) {
            if (!queue_puback(c, get_u16(body + at))) {
                return false;
            }
            at += 2;
        }
        if (h->on_publish) {
            h->on_publish(h->ctx, c, (const char *)body + 2, topic_len, body + at, len - at);
        }
        return true;
    }
    case MQTT_PINGRESP & 0xF0:
        return true;
    default:
        fprintf(stderr, "bench: connection %d: unexpected packet type 0x%02x\n", c->index, type);
        return false;
    }
}

/* Parses every whole packet at the front of the read buffer. */
static bool parse_packets(bench_conn *c, const bench_handlers *h)
{
    size_t at = 0;
    while (at + 2 <= c->rlen) {
        size_t remaining = 0, mult = 1, i = at + 1;
        bool whole = false;
        for (; i < c->rlen && i < at + 5; i++) {
            remaining += (size_t)(c->rbuf[i] & 0x7F) * mult;
            mult *= 128;
            if (!(c->rbuf[i] & 0x80)) {
                whole = true;
                break;
            }
        }
        if (!whole) {
            if (i >= at + 5) {
                return false;
            }
            break;
        }
        size_t body = i + 1;
        if (body + remaining > c->rlen) {
            if (body + remaining - at > BENCH_CONN_READ_MAX) {
                return false;
            }
            break;
        }
        if (!handle_packet(c, c->rbuf[at], c->rbuf + body, remaining, h)) {
            return false;
        }
        at = body + remaining;
    }
    memmove(c->rbuf, c->rbuf + at, c->rlen - at);
    c->rlen -= at;
    return true;
}

bool bench_conn_read(bench_conn *c, const bench_handlers *h)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, BENCH_CONN_READ_MAX - c->rlen, 0);
        if (n == 0) {
            fprintf(stderr, "bench: connection %d closed by the broker\n", c->index);
            c->failed = true;
            return false;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true;
            }
            fprintf(stderr, "bench: connection %d: recv: %s\n", c->index, strerror(errno));
            c->failed = true;
            return false;
        }
        c->rlen += (size_t)n;
        if (!parse_packets(c, h)) {
            c->failed = true;
            return false;
        }
    }
}
