/*
 * firmware.c - firmware as a device maker writes it against the installed
 * libfogpay-agent-dev, built by test_packages.sh with
 * `pkg-config --static --cflags --libs fogpay-agent` only: it pays once
 * through the agent library and prints what the gateway answered.
 *
 *   firmware STATEDIR KEY DEVICE GATEWAY_KEY PASSWORD PORT PAYEE AMOUNT
 *
 * Exit status: 0 settled, 1 anything else (with the error's name).
 */
#include <stdio.h>
#include <stdlib.h>

#include <agent.h>
#include <fogpay_currency.h>

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr,
                "usage: firmware STATEDIR KEY DEVICE GATEWAY_KEY PASSWORD PORT PAYEE AMOUNT\n");
        return 1;
    }
    uint16_t eur = 0;
    int exponent = 0;
    uint64_t amount = 0;
    if (!fogpay_currency_from_code("EUR", &eur, &exponent) ||
        fogpay_amount_parse(argv[8], exponent, &amount) != FOGPAY_OK) {
        fprintf(stderr, "firmware: bad amount %s\n", argv[8]);
        return 1;
    }
    fogpay_agent_config config = {
        .state_dir = argv[1],
        .key_path = argv[2],
        .device_id = argv[3],
        .gateway_key = argv[4],
        .password = argv[5],
        .host = "127.0.0.1",
        .port = atoi(argv[6]),
    };
    fogpay_agent *agent = NULL;
    fogpay_error err = fogpay_agent_open(&config, &agent);
    if (err == FOGPAY_OK) {
        err = fogpay_agent_connect(agent);
    }
    fogpay_agent_outcome outcome = {0};
    if (err == FOGPAY_OK) {
        err = fogpay_agent_pay(agent, argv[7], amount, eur, "firmware", &outcome);
    }
    if (err == FOGPAY_OK && outcome.status != FOGPAY_STATUS_SETTLED) {
        err = outcome.reason;
    }
    if (err != FOGPAY_OK) {
        fprintf(stderr, "firmware: %s\n", fogpay_error_name(err));
        fogpay_agent_close(agent);
        return 1;
    }
    char balance[32];
    fogpay_amount_format(outcome.balance_after_minor, exponent, balance, sizeof balance);
    printf("firmware: transfer %llu settled, balance %s EUR\n",
           (unsigned long long)outcome.transfer_id, balance);
    fogpay_agent_close(agent);
    return 0;
}
