/*
 * site.h - a provisioned gateway site for tests of what an operator sees:
 * a ledger made with fogpayctl (a gateway key, a legal entity, devices with
 * keys from fogpay-agent, generated secrets, limits of 20.00 a payment and
 * 100.00 a day, wallets funded with 50.00 EUR), an operator "ops" with its
 * password, and a real Mosquitto with the plugin on a free loopback port;
 * payments are made by the real fogpay-agent.
 *
 * The programs are named by $FOGPAYCTL and $FOGPAY_AGENT, the plugin by
 * $FOGPAY_PLUGIN. Every file lives in the broker's temporary directory,
 * removed by test_site_cleanup(), which also stops the broker.
 */
#ifndef FOGPAY_TEST_SITE_H
#define FOGPAY_TEST_SITE_H

#include <stdbool.h>
#include <stddef.h>

#include "broker.h"

#define TEST_SITE_DEVICES_MAX 8
#define TEST_SITE_TEXT_MAX    160

/* The operator's login. */
#define TEST_SITE_OPERATOR "ops"

typedef struct test_site {
    test_broker broker;
    char db[TEST_BROKER_PATH_MAX];
    char gateway_key[TEST_BROKER_PATH_MAX];
    char gateway_public[TEST_SITE_TEXT_MAX]; /* ed25519:<hex> */
    char operators[TEST_BROKER_PATH_MAX];
    char operator_password[TEST_SITE_TEXT_MAX];
    char operator_password_file[TEST_BROKER_PATH_MAX];
    char entity[TEST_SITE_TEXT_MAX];
    char log[TEST_BROKER_PATH_MAX]; /* the programs' output */
    const char *fogpayctl;
    const char *agent;
} test_site;

/* Provisions a new site with the devices named (at most
 * TEST_SITE_DEVICES_MAX, NULL-terminated). False, with the reason on
 * stderr, on any failure. */
bool test_site_provision(test_site *s, const char *const *devices);

/* Starts the broker: the gateway configuration of broker.h with
 * extra_conf after it (plugin options, more listeners; may be NULL). */
bool test_site_start(test_site *s, const char *extra_conf);

/* The secret of a device (its password), into out. */
bool test_site_device_password(const test_site *s, const char *device, char *out, size_t cap);

/* One payment by the real agent: from pays to amount ("4.20") EUR with
 * reference ref. The agent's exit status (0: settled). */
int test_site_pay(test_site *s, const char *from, const char *to, const char *amount,
                  const char *ref);

/* An authorisation by the real agent: from holds amount EUR for to,
 * for hold_s seconds. The agent's exit status (0: held). */
int test_site_authorise(test_site *s, const char *from, const char *to, const char *amount,
                        const char *hold_s);

/* Runs fogpayctl with args (NULL-terminated), online as the operator when
 * online is true, else on the ledger file; its output into out_path (or
 * the log when NULL). The exit status. */
int test_site_ctl(test_site *s, bool online, const char *const *args, const char *out_path);

/* Before the broker starts: a financing plan "<device>-loan" of 100.00
 * EUR from the site's entity, made ten days ago with an instalment a day,
 * none paid, so in arrears. Not collected from the wallet and limiting
 * rather than suspending on shortfall, so that it moves nothing else. */
bool test_site_plan_in_arrears(test_site *s, const char *device);

void test_site_cleanup(test_site *s);

#endif
