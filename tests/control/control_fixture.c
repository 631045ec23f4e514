/*
 * control_fixture.c - one control command through the real handler
 * (control_fixture.h).
 */
#include "control_fixture.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

cJSON *control_fixture_send(fogpay_ledger *l, const char *entity, const char *login,
                            const char *json, uint64_t now_ms, const cJSON **resp)
{
    fogpay_control_context c = {.ledger = l, .entity = entity, .login = login};
    char *text = fogpay_control_handle(&c, json, strlen(json), now_ms);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *reply = cJSON_Parse(text);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    *resp = cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "responses"), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*resp);
    return reply;
}

const char *control_fixture_error(const cJSON *resp)
{
    const cJSON *e = cJSON_GetObjectItem(resp, "error");
    return cJSON_IsString(e) ? e->valuestring : "";
}
