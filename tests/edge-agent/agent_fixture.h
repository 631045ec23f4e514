/*
 * agent_fixture.h - the gateway and its agents as the agent tests run them:
 * a real Mosquitto with the real plugin on loopback, its ledger, the
 * gateway's key and an operator ("ops", password "ops-pass"); devices
 * provisioned through the ledger API with their key and password files in
 * the broker dir; fogpay-agent and fogpayctl run against it.
 *
 * Ownership: the test owns its agent_fixture (a static of its own); the
 * fixture owns the broker, its directory and the gateway key, all given
 * back by agent_fixture_cleanup.
 */
#ifndef FOGPAY_AGENT_FIXTURE_H
#define FOGPAY_AGENT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "broker.h"
#include "fogpay_cose.h"
#include "ledger.h"

/* The currency the devices are funded in (ISO 4217 EUR). */
#define AGENT_FIXTURE_EUR 978

/* The most arguments a run of fogpay-agent or fogpayctl takes. */
#define AGENT_FIXTURE_ARGS_MAX 48

typedef struct agent_fixture {
    test_broker broker;
    const char *agent_bin; /* fogpay-agent */
    const char *ctl_bin;   /* fogpayctl */
    char db_path[TEST_BROKER_PATH_MAX];
    fogpay_key *gateway_key;
    char gateway_text[FOGPAY_PUBLIC_KEY_TEXT_MAX];
} agent_fixture;

/* The broker dir made, the gateway's key saved there (and kept), the
 * operators file written; false when any of it failed. agent_bin and
 * ctl_bin are the caller's to set. */
bool agent_fixture_init(agent_fixture *fx);
/* Stops the broker, removes its dir, frees the gateway key. */
void agent_fixture_cleanup(agent_fixture *fx);

/* name in the broker dir, into out (TEST_BROKER_PATH_MAX bytes). */
void agent_fixture_path(const agent_fixture *fx, const char *name, char *out);
/* Writes text to path (created or truncated) with mode. */
void agent_fixture_write(const char *path, const char *text, mode_t mode);
/* A hook script writing its argument to a marker file: both in the broker
 * dir, name.sh and name.marker, their paths into hook and marker. */
void agent_fixture_hook(const agent_fixture *fx, const char *name, char *hook, char *marker);
/* True once path holds text, waiting up to ms. */
bool agent_fixture_wait_text(const char *path, const char *text, unsigned ms);

/* Device id registered with entity, funded with fund EUR cents, its key
 * in id.key and its password (its id) in id.pass. */
void agent_fixture_register(const agent_fixture *fx, fogpay_ledger *l, const char *id,
                            const char *entity, uint64_t fund);
/* Starts the gateway gateway_id on the ledger with extra mosquitto.conf
 * lines (NULL: none); a failure fails the test. */
void agent_fixture_start(agent_fixture *fx, const char *gateway_id, const char *extra);

/* Starts fogpay-agent for device with the common options, --test-clock
 * clock unless NULL, then extra (NULL-terminated). With out_name its
 * stdout and stderr are appended to out_name in the broker dir; without,
 * stdout goes to /dev/null. Its pid. */
pid_t agent_fixture_spawn(const agent_fixture *fx, const char *device, const char *clock,
                          const char *out_name, const char *const *extra);
/* fogpay-agent for device with the common options and extra, run to its
 * end with its stdout into out_path (created or truncated; NULL:
 * /dev/null) and its stderr the test's: its exit status. */
int agent_fixture_command(const agent_fixture *fx, const char *device, const char *const *extra,
                          const char *out_path);
/* agent_fixture_spawn run to its end: its exit status. */
int agent_fixture_agent(const agent_fixture *fx, const char *device, const char *clock,
                        const char *out_name, const char *const *extra);
/* The first number after key at the start of a line of device's
 * `status` (-1 when no line has it). */
long long agent_fixture_status(const agent_fixture *fx, const char *device, const char *clock,
                               const char *key);

/* fogpayctl online as the operator with the control command and its
 * "--field value" pairs (NULL-terminated), its stdout into out_name in the
 * broker dir (NULL: none); its exit status. */
int agent_fixture_operator(const agent_fixture *fx, const char *const *command,
                           const char *out_name);
/* The same with stdout and stderr appended to fogpayctl.log in the broker
 * dir, printed when it fails. */
int agent_fixture_operator_logged(const agent_fixture *fx, const char *const *command);

/* The EUR balance of device's wallet, or with device NULL of entity's
 * account. */
int64_t agent_fixture_balance(const agent_fixture *fx, const char *device, const char *entity);

#endif
