/*
 * fogpay_topic.c - parsing and building the dev/ and gw/ topics, and the
 * id alphabet they share with the codec.
 */
#include "fogpay_topic.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *leaf;
    fogpay_topic_kind kind;
} topic_leaves[] = {
    {"intent", FOGPAY_TOPIC_INTENT},   {"usage", FOGPAY_TOPIC_USAGE},
    {"receipt", FOGPAY_TOPIC_RECEIPT}, {"cmd", FOGPAY_TOPIC_COMMAND},
    {"reply", FOGPAY_TOPIC_REPLY},     {"batch", FOGPAY_TOPIC_BATCH},
    {"ack", FOGPAY_TOPIC_ACK},         {"bind", FOGPAY_TOPIC_BIND},
    {"hold", FOGPAY_TOPIC_HOLD},       {"plan", FOGPAY_TOPIC_PLAN},
    {"hold", FOGPAY_TOPIC_HOLD},       {"withdraw", FOGPAY_TOPIC_WITHDRAW},
    {"note", FOGPAY_TOPIC_NOTE},       {"notepay", FOGPAY_TOPIC_NOTEPAY},
    {"redeem", FOGPAY_TOPIC_REDEEM},
};

bool fogpay_id_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

/* True when the len bytes at id are 1 to max id characters. */
static bool id_span_valid(const char *id, size_t len, size_t max)
{
    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!fogpay_id_char((uint8_t)id[i])) {
            return false;
        }
    }
    return true;
}

bool fogpay_id_valid(const char *id, size_t max)
{
    return id != NULL && id_span_valid(id, strnlen(id, max + 1), max);
}

bool fogpay_device_id_valid(const char *id)
{
    return fogpay_id_valid(id, FOGPAY_DEVICE_ID_MAX);
}

bool fogpay_gateway_id_valid(const char *id)
{
    return fogpay_id_valid(id, FOGPAY_GATEWAY_ID_MAX);
}

bool fogpay_topic_prefix_valid(const char *p)
{
    if (p == NULL) {
        return false;
    }
    size_t n = strnlen(p, FOGPAY_TOPIC_PREFIX_MAX + 1);
    return n > 0 && n <= FOGPAY_TOPIC_PREFIX_MAX && p[0] != '/' && p[0] != '$' && p[n - 1] != '/' &&
           !strpbrk(p, "+#") && !strstr(p, "//");
}

bool fogpay_topic_is_gateway(fogpay_topic_kind kind)
{
    return kind == FOGPAY_TOPIC_BATCH || kind == FOGPAY_TOPIC_ACK || kind == FOGPAY_TOPIC_GATEWAY;
}

/* True for a reply name: one or more non-empty levels, each of id
 * characters when strict. */
static bool reply_name_valid(const char *name, bool strict)
{
    if (name == NULL || name[0] == '\0' || name[0] == '/') {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        bool ok = *p == '/' ? p[1] != '\0' && p[1] != '/' : !strict || fogpay_id_char((uint8_t)*p);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The kind named by the leaf (the levels after the id) of a dev/ or gw/
 * topic, or OTHER. */
static fogpay_topic_kind topic_leaf_kind(bool gateway, const char *leaf)
{
    size_t level = strcspn(leaf, "/");
    for (size_t i = 0; i < sizeof topic_leaves / sizeof topic_leaves[0]; i++) {
        fogpay_topic_kind kind = topic_leaves[i].kind;
        if (fogpay_topic_is_gateway(kind) != gateway || strlen(topic_leaves[i].leaf) != level ||
            strncmp(leaf, topic_leaves[i].leaf, level) != 0) {
            continue;
        }
        if (kind != FOGPAY_TOPIC_REPLY) {
            return leaf[level] == '\0' ? kind : FOGPAY_TOPIC_OTHER;
        }
        bool named = leaf[level] == '/' && reply_name_valid(leaf + level + 1, false);
        return named ? kind : FOGPAY_TOPIC_OTHER;
    }
    return FOGPAY_TOPIC_OTHER;
}

fogpay_topic_kind fogpay_topic_parse_id(const char *prefix, const char *topic,
                                        char id[FOGPAY_TOPIC_ID_MAX + 1])
{
    size_t prefix_len = strlen(prefix);
    id[0] = '\0';
    if (strncmp(topic, prefix, prefix_len) != 0 || topic[prefix_len] != '/') {
        return FOGPAY_TOPIC_NONE;
    }
    const char *rest = topic + prefix_len + 1;
    if (strpbrk(rest, "+#")) {
        return FOGPAY_TOPIC_OTHER;
    }
    bool gateway = strncmp(rest, "gw/", 3) == 0;
    fogpay_topic_kind miss = gateway ? FOGPAY_TOPIC_GATEWAY : FOGPAY_TOPIC_OTHER;
    if (!gateway && strncmp(rest, "dev/", 4) != 0) {
        return FOGPAY_TOPIC_OTHER;
    }
    if (strnlen(topic, FOGPAY_TOPIC_MAX) >= FOGPAY_TOPIC_MAX) {
        return miss;
    }
    const char *start = rest + (gateway ? 3 : 4);
    const char *slash = strchr(start, '/');
    size_t len = slash ? (size_t)(slash - start) : 0;
    size_t max = gateway ? FOGPAY_GATEWAY_ID_MAX : FOGPAY_DEVICE_ID_MAX;
    if (!slash || !id_span_valid(start, len, max)) {
        return miss;
    }
    fogpay_topic_kind kind = topic_leaf_kind(gateway, slash + 1);
    if (kind == FOGPAY_TOPIC_OTHER) {
        return miss;
    }
    memcpy(id, start, len);
    id[len] = '\0';
    return kind;
}

/* The leaf of a kind that can be built, or NULL. */
static const char *topic_leaf(fogpay_topic_kind kind)
{
    for (size_t i = 0; i < sizeof topic_leaves / sizeof topic_leaves[0]; i++) {
        if (topic_leaves[i].kind == kind) {
            return topic_leaves[i].leaf;
        }
    }
    return NULL;
}

/* Writes "{prefix}/{family}/{id}/{leaf}[/{reply}]" into out. */
static fogpay_error topic_write(const char *prefix, bool gateway, const char *id, const char *leaf,
                                const char *reply, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s/%s/%s%s%s", prefix, gateway ? "gw" : "dev", id, leaf,
                     reply ? "/" : "", reply ? reply : "");
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return FOGPAY_ERR_BUFFER_TOO_SMALL;
    }
    return FOGPAY_OK;
}

fogpay_error fogpay_topic_build(const char *prefix, fogpay_topic_kind kind, const char *id,
                                const char *reply, char *out, size_t cap)
{
    const char *leaf = topic_leaf(kind);
    bool gateway = fogpay_topic_is_gateway(kind);
    bool is_reply = kind == FOGPAY_TOPIC_REPLY;
    bool reply_ok = is_reply ? reply_name_valid(reply, true) : reply == NULL;
    if (!leaf || !reply_ok || !fogpay_topic_prefix_valid(prefix)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    if (!(gateway ? fogpay_gateway_id_valid(id) : fogpay_device_id_valid(id))) {
        return FOGPAY_ERR_TEXT_INVALID;
    }
    return topic_write(prefix, gateway, id, leaf, reply, out, cap);
}

fogpay_error fogpay_topic_filter(const char *prefix, fogpay_topic_kind kind, char *out, size_t cap)
{
    if ((kind != FOGPAY_TOPIC_BATCH && kind != FOGPAY_TOPIC_ACK) ||
        !fogpay_topic_prefix_valid(prefix)) {
        return FOGPAY_ERR_INVALID_ARGUMENT;
    }
    return topic_write(prefix, true, "+", topic_leaf(kind), NULL, out, cap);
}
