/*
 * topic.c - the device topics "<prefix>/dev/<device>/<leaf>" and the
 * gateway topics "<prefix>/gw/...".
 */
#include <stdio.h>
#include <string.h>

#include "gateway.h"

static const struct {
    const char *leaf;
    fogpay_topic_kind kind;
} topic_leaves[] = {
    {"intent", FOGPAY_TOPIC_INTENT},
    {"usage", FOGPAY_TOPIC_USAGE},
    {"receipt", FOGPAY_TOPIC_RECEIPT},
    {"cmd", FOGPAY_TOPIC_COMMAND},
};

fogpay_topic_kind fogpay_topic_parse(const char *prefix, const char *topic, char *device)
{
    size_t prefix_len = strlen(prefix);
    device[0] = '\0';
    if (strncmp(topic, prefix, prefix_len) != 0 || topic[prefix_len] != '/') {
        return FOGPAY_TOPIC_NONE;
    }
    const char *rest = topic + prefix_len + 1;
    if (strpbrk(rest, "+#")) {
        return FOGPAY_TOPIC_OTHER;
    }
    if (strncmp(rest, "gw/", 3) == 0) {
        return FOGPAY_TOPIC_GATEWAY;
    }
    if (strncmp(rest, "dev/", 4) != 0) {
        return FOGPAY_TOPIC_OTHER;
    }
    const char *id = rest + 4;
    const char *slash = strchr(id, '/');
    size_t id_len = slash ? (size_t)(slash - id) : 0;
    if (!slash || id_len == 0 || id_len > FOGPAY_DEVICE_ID_MAX) {
        return FOGPAY_TOPIC_OTHER;
    }
    memcpy(device, id, id_len);
    device[id_len] = '\0';
    const char *leaf = slash + 1;
    for (size_t i = 0; i < sizeof topic_leaves / sizeof topic_leaves[0]; i++) {
        if (strcmp(leaf, topic_leaves[i].leaf) == 0) {
            return topic_leaves[i].kind;
        }
    }
    if (strncmp(leaf, "reply/", 6) == 0 && leaf[6] != '\0') {
        return FOGPAY_TOPIC_REPLY;
    }
    return FOGPAY_TOPIC_OTHER;
}

void fogpay_topic_device(const char *prefix, const char *device, const char *leaf, char *out)
{
    snprintf(out, FOGPAY_TOPIC_MAX, "%s/dev/%s/%s", prefix, device, leaf);
}
