/*
 * control_fixture.h - one control command through the real handler, as
 * the control tests send them: the reply parsed, its first response.
 *
 * Ownership: the reply is the caller's (cJSON_Delete); the response is a
 * view into it.
 */
#ifndef FOGPAY_CONTROL_FIXTURE_H
#define FOGPAY_CONTROL_FIXTURE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "ledger.h"

/* Sends json on l as entity (NULL: an operator) under login at now_ms;
 * the parsed reply, *resp its first response. A reply missing any of them
 * fails the test. */
cJSON *control_fixture_send(fogpay_ledger *l, const char *entity, const char *login,
                            const char *json, uint64_t now_ms, const cJSON **resp);
/* The response's error, "" when it has none. */
const char *control_fixture_error(const cJSON *resp);

#endif
