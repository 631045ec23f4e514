/*
 * pending.c - how many messages of each device are in the ring, admitted
 * and not yet answered: the bound that keeps one device from filling it.
 *
 * Open addressing with linear probing over FOGPAY_PENDING_SLOTS slots,
 * keyed by device id (FNV-1a). A device is in the table only while its
 * count is above 0, so at most FOGPAY_ENGINE_JOBS devices are: the table
 * stays at most half full and a probe ends soon. Removal shifts the
 * following entries back so no tombstones build up. Broker thread only.
 *
 * An entry also holds the device's newest message settled in the ring that
 * takes a place on its chain: until it is recorded, the ledger cannot see
 * it, and the device's next message links to it (device_message.c).
 */
#include <string.h>

#include "gateway.h"

static size_t pending_hash(const char *device_id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)device_id; *c; c++) {
        h = (h ^ *c) * 16777619u;
    }
    return h & (FOGPAY_PENDING_SLOTS - 1);
}

/* The slot of device_id, or the free slot where it would go; SIZE_MAX when
 * the table is full and the device not in it. */
static size_t pending_find(const fogpay_pending *p, const char *device_id)
{
    size_t i = pending_hash(device_id);
    for (size_t probes = 0; probes < FOGPAY_PENDING_SLOTS; probes++) {
        const fogpay_pending_entry *e = &p->slots[i];
        if (e->device_id[0] == '\0' || strcmp(e->device_id, device_id) == 0) {
            return i;
        }
        i = (i + 1) & (FOGPAY_PENDING_SLOTS - 1);
    }
    return SIZE_MAX;
}

uint32_t fogpay_pending_count(const fogpay_pending *p, const char *device_id)
{
    size_t i = pending_find(p, device_id);
    return i == SIZE_MAX ? 0 : p->slots[i].count;
}

bool fogpay_pending_add(fogpay_pending *p, const char *device_id)
{
    size_t i = pending_find(p, device_id);
    if (i == SIZE_MAX || strlen(device_id) > FOGPAY_DEVICE_ID_MAX || device_id[0] == '\0') {
        return false;
    }
    fogpay_pending_entry *e = &p->slots[i];
    if (e->device_id[0] == '\0') {
        strcpy(e->device_id, device_id);
        e->count = 0;
        e->head_seq = 0;
    }
    e->count++;
    return true;
}

/* Empties slot hole and moves back each later entry of the run that may
 * live there (its home is not between the hole and itself). */
static void pending_delete(fogpay_pending *p, size_t hole)
{
    size_t mask = FOGPAY_PENDING_SLOTS - 1;
    size_t i = hole;
    for (;;) {
        p->slots[hole].device_id[0] = '\0';
        p->slots[hole].count = 0;
        for (;;) {
            i = (i + 1) & mask;
            if (p->slots[i].device_id[0] == '\0') {
                return;
            }
            size_t home = pending_hash(p->slots[i].device_id);
            bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
            if (!stays) {
                break;
            }
        }
        p->slots[hole] = p->slots[i];
        hole = i;
    }
}

void fogpay_pending_remove(fogpay_pending *p, const char *device_id)
{
    size_t i = pending_find(p, device_id);
    if (i == SIZE_MAX || p->slots[i].device_id[0] == '\0') {
        return;
    }
    if (--p->slots[i].count == 0) {
        pending_delete(p, i);
    }
}

void fogpay_pending_set_head(fogpay_pending *p, const char *device_id, uint64_t seq,
                             const uint8_t hash[FOGPAY_HASH_BYTES])
{
    size_t i = pending_find(p, device_id);
    if (i != SIZE_MAX && p->slots[i].device_id[0] != '\0') {
        p->slots[i].head_seq = seq;
        memcpy(p->slots[i].head_link, hash, FOGPAY_PREV_HASH_BYTES);
    }
}

bool fogpay_pending_head(const fogpay_pending *p, const char *device_id, uint64_t *seq,
                         uint8_t link[FOGPAY_PREV_HASH_BYTES])
{
    size_t i = pending_find(p, device_id);
    if (i == SIZE_MAX || p->slots[i].device_id[0] == '\0' || p->slots[i].head_seq == 0) {
        return false;
    }
    *seq = p->slots[i].head_seq;
    memcpy(link, p->slots[i].head_link, FOGPAY_PREV_HASH_BYTES);
    return true;
}
