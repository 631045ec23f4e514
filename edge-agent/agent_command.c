/*
 * agent_command.c - commands from the gateway: suspend, resume, limits,
 * the gateway's next key.
 *
 * A plan notice (kind 4, on the device's plan topic) is verified the same
 * way and then handed to agent_plan.c, which keeps its own last seq: the
 * retained notice and the retained suspend are delivered in either order
 * on a subscription, and neither may hide the other.
 *
 * A command is applied only when its COSE signature verifies with the
 * gateway key its kid names, at a time within that key's validity
 * (agent_gateway_key.c), it names this device, and its command_seq is above the last
 * one applied (the gateway numbers each device's commands; a retained
 * suspend delivered again on every subscription, or an old command
 * replayed, is not applied twice).
 *
 * Suspend and resume, crash-consistently: first the new state is persisted
 * together with "hook pending" (from this moment pay refuses with
 * FOGPAY_ERR_DEVICE_SUSPENDED, or accepts again), then the hook program
 * runs, then "hook pending" is cleared. A crash while the hook runs leaves
 * it pending, and fogpay_agent_open() runs it again: the hook runs at least
 * once per command, so it must be idempotent. The hook is started with
 * fork and execv, argument "suspend" or "resume", and waited for; its exit
 * status is logged.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_internal.h"

static fogpay_error command_open(const fogpay_agent *a, const uint8_t *msg, size_t len,
                                 fogpay_command *out, fogpay_gateway_key *signer)
{
    fogpay_bytes payload;
    fogpay_error err = agent_gateway_open(a, msg, len, &payload, signer);
    if (err == FOGPAY_OK) {
        err = fogpay_command_decode(payload.ptr, payload.len, out);
    }
    if (err == FOGPAY_OK) {
        err = fogpay_gateway_key_valid_at(signer, out->issued_s);
    }
    return err;
}

static void command_run_hook(const fogpay_agent *a, const char *what)
{
    if (!a->hook[0]) {
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        agent_log("hook %s %s: fork failed", a->hook, what);
        return;
    }
    if (pid == 0) {
        char *const argv[] = {(char *)a->hook, (char *)what, NULL};
        execv(a->hook, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        agent_log("hook %s %s did not succeed (status %d)", a->hook, what, status);
    }
}

static void command_finish_hook(fogpay_agent *a)
{
    uint8_t pending = a->state.hook_pending;
    if (pending == AGENT_HOOK_NONE) {
        return;
    }
    command_run_hook(a, pending == AGENT_HOOK_SUSPEND ? "suspend" : "resume");
    agent_state next = a->state;
    next.hook_pending = AGENT_HOOK_NONE;
    agent_state_store(a, &next); /* when it fails, the hook runs again at the next open */
}

void agent_command_resume_hook(fogpay_agent *a)
{
    command_finish_hook(a);
}

fogpay_error agent_command_hook(fogpay_agent *a, agent_hook_pending hook)
{
    agent_state next = a->state;
    next.hook_pending = (uint8_t)hook;
    fogpay_error err = agent_state_store(a, &next);
    if (err == FOGPAY_OK) {
        command_finish_hook(a);
    }
    return err;
}

fogpay_error fogpay_agent_command_handle(fogpay_agent *a, const uint8_t *msg, size_t len)
{
    fogpay_command cmd;
    fogpay_gateway_key signer;
    fogpay_error err = command_open(a, msg, len, &cmd, &signer);
    if (err == FOGPAY_OK && strcmp(cmd.device_id, a->device_id) != 0) {
        err = FOGPAY_ERR_DEVICE_MISMATCH;
    }
    if (err == FOGPAY_OK && cmd.kind == FOGPAY_COMMAND_PLAN) {
        err = agent_plan_notice(a, &cmd);
        if (err != FOGPAY_OK && (err != FOGPAY_ERR_SEQ_CONFLICT || a->verbose)) {
            agent_log("plan notice ignored: %s", fogpay_error_name(err));
        }
        return err;
    }
    if (err == FOGPAY_OK && cmd.command_seq <= a->state.last_command_seq) {
        err = FOGPAY_ERR_SEQ_CONFLICT;
    }
    if (err != FOGPAY_OK) {
        if (err != FOGPAY_ERR_SEQ_CONFLICT || a->verbose) {
            agent_log("command ignored: %s", fogpay_error_name(err));
        }
        return err;
    }
    agent_state next = a->state;
    next.last_command_seq = cmd.command_seq;
    switch (cmd.kind) {
    case FOGPAY_COMMAND_SUSPEND:
        next.suspended = true;
        next.hook_pending = AGENT_HOOK_SUSPEND;
        break;
    case FOGPAY_COMMAND_RESUME:
        next.suspended = false;
        /* A device out of action by its plan stays so: no resume hook. */
        next.hook_pending = a->plan.lapsed ? AGENT_HOOK_NONE : AGENT_HOOK_RESUME;
        break;
    case FOGPAY_COMMAND_GATEWAY_KEY:
        err = agent_gateway_key_announced(a, &signer, &cmd, &next);
        if (err == FOGPAY_ERR_EXISTS) {
            err = FOGPAY_OK; /* known already: only the command seq moves */
        }
        break;
    default:
        next.per_payment_minor = cmd.per_payment_minor;
        next.per_day_minor = cmd.per_day_minor;
        next.wallet_max_minor = cmd.wallet_max_minor;
        break;
    }
    if (err == FOGPAY_OK) {
        err = agent_state_store(a, &next);
    }
    if (err != FOGPAY_OK) {
        agent_log("command %llu not applied: %s", (unsigned long long)cmd.command_seq,
                  fogpay_error_name(err));
        return err; /* applied again when it comes again */
    }
    static const char *const names[] = {"suspend", "resume", "limits", "gateway key"};
    agent_log("command %llu applied: %s", (unsigned long long)cmd.command_seq, names[cmd.kind]);
    command_finish_hook(a);
    return FOGPAY_OK;
}
